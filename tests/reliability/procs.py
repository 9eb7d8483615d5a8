"""Real subprocesses of the `deflect` command for crash, concurrency and load tests.

They run tests/support/serve.py: the same command tree as the console script, with the hashing encoder
injected.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from eval.mixed_load import QUERIES, wait_until_ready
from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.conftest import make_tenant
from tests.support.encoders import hashing_encoders

ROOT = Path(__file__).resolve().parents[2]
SERVE = "tests.support.serve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deflect_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFLECT_")}
    env.update(
        {
            "DEFLECT_DATA_DIR": str(data_dir),
            "DEFLECT_INDEX_SYNC_SECONDS": "0.2",
            "DEFLECT_LOG_LEVEL": "WARNING",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
        }
    )
    if database_url:
        env["DEFLECT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def deflect(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    """Starts `deflect <args>` as its own process (the console script's code, hashing encoder)."""
    return subprocess.Popen(
        [sys.executable, "-m", SERVE, *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )  # type: ignore[call-overload]


class Server:
    """`deflect serve` on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", SERVE, "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            wait_until_ready(self.url, self.process, timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.process.stderr.read()[-2000:]}") from exc

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stderr:
            self.process.stderr.close()
        return self.process.returncode


def seed_load_shop(data_dir: Path, tenant_id: str) -> dict[str, str]:
    """A migrated SQLite data dir (hashing encoder) with one tenant whose help centre answers the load's
    queries; returns the tenant's public, agent and admin keys."""
    runtime = Runtime(Settings(data_dir=data_dir), encoders=hashing_encoders)
    runtime.migrate()
    tenant = make_tenant(runtime, tenant_id)
    with runtime.session() as session:
        kb_service.import_articles(
            session,
            tenant_id=tenant_id,
            file="seed",
            articles=[
                ArticleCreate(id=f"kb-{i}", title=q.capitalize(), body=f"{q}. Step-by-step help number {i}.")
                for i, q in enumerate(QUERIES)
            ],
        )
    runtime.close()
    return {"public": tenant.public, "agent": tenant.agent, "admin": tenant.admin}
