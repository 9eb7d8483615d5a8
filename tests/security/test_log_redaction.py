"""Log redaction never breaks a formatter (uvicorn's access lines above all) and sees through URL encoding."""

from __future__ import annotations

import io
import logging
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from uvicorn.logging import AccessFormatter, DefaultFormatter

from core.redact import install_log_redaction, redact_log_text
from core.settings import Settings
from runtime import Runtime
from tests.reliability.procs import deflect, deflect_env, free_port
from tests.support.encoders import hashing_encoders

KEY = "dfk_adm_AAAAAAAAAAAAAAAAAAAAbbbbbbbbbbbb"
SECRET_PATHS = [
    "/healthz?x=dfk_abc_AAAAAAAAAAAAAAAAAAAA",  # key-shaped, no key at all
    f"/v1/articles?key={KEY}",
    "/v1/articles?key=" + KEY.replace("_", "%5F"),
    "/v1/articles?key=" + "".join(f"%{b:02X}" for b in KEY.encode()),  # every byte encoded
    "/v1/articles?key=" + quote(quote(KEY, safe="").replace("_", "%5F"), safe=""),  # double-encoded
    "/login?password=hunter2&user=x",
    "/v1/articles?q=4111111111111111",  # passes the card checksum
    "/v1/articles?q=4111%201111%201111%201111",
    "/v1/articles?token=s3cr3t-t0ken-value",
]
LEAKS = (KEY, "AAAAAAAAAAAAAAAAAAAA", "hunter2", "4111111111111111", "4111 1111 1111 1111", "s3cr3t-t0ken")


def _access_line(path: str) -> str:
    """What uvicorn's access logger prints for one request, through the installed redaction."""
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    logger = logging.getLogger("uvicorn.access.redaction-test")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    previous = logging.raiseExceptions
    logging.raiseExceptions = True
    try:
        record = logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("1.2.3.4:5", "GET", path, "1.1", 200),
            None,
        )
        logger.handle(record)
        handler.format(record)  # raises if the formatter cannot unpack the record
    finally:
        logging.raiseExceptions = previous
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("path", SECRET_PATHS)
def test_access_lines_are_printed_redacted(path: str) -> None:
    line = _access_line(path)
    assert line.startswith('1.2.3.4:5 - "GET /') and line.rstrip().endswith("200 OK"), line
    assert "Traceback" not in line
    for leak in LEAKS:
        assert leak not in line, (path, line)


def test_ordinary_lines_are_unchanged() -> None:
    assert _access_line("/v1/articles?limit=20&q=parcel%20box").strip() == (
        '1.2.3.4:5 - "GET /v1/articles?limit=20&q=parcel%20box HTTP/1.1" 200 OK'
    )
    assert redact_log_text("order 114-1234567-1234567 at 100%") == "order 114-1234567-1234567 at 100%"


def test_other_records_keep_working(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    logger = logging.getLogger("deflect.redaction-test")
    with caplog.at_level(logging.INFO):
        logger.info("password: %s", "hunter2")  # a secret formed only by the format string and its argument
        logger.info("count %d of %s", 4111111111111111, "cards")
        logger.info("%(who)s said %(what)s", {"who": "a", "what": f"key {KEY}"})
        logger.info("url %s", "/x?key=" + quote(KEY, safe=""))
    text = caplog.text
    assert "hunter2" not in text and KEY not in text and "4111111111111111" not in text
    assert "a said key [REDACTED:api_key]" in text
    formatted = DefaultFormatter("%(message)s").format(caplog.records[-1])
    assert KEY not in formatted


def test_a_real_server_logs_every_access_line_without_a_traceback(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    Runtime(settings, encoders=hashing_encoders).migrate()
    port = free_port()
    # uvicorn prints access lines on stdout, its other records on stderr: `deflect` merges both here.
    process = deflect(
        ["serve", "--port", str(port)], deflect_env(settings.data_dir, DEFLECT_LOG_LEVEL="INFO")
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for path in SECRET_PATHS:
            httpx.get(url + path, timeout=10)
    finally:
        process.terminate()
        try:
            log, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            log, _ = process.communicate()
    assert "Traceback" not in log and "Logging error" not in log, log[-3000:]
    access = [line for line in log.splitlines() if '"GET /' in line and "HTTP/1.1" in line]
    probes = [line for line in access if '"GET /healthz HTTP/1.1"' in line]
    assert len(access) - len(probes) == len(SECRET_PATHS), log[-3000:]
    for leak in LEAKS:
        assert leak not in log, leak
