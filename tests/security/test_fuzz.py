"""Schemathesis over the whole OpenAPI surface: no 5xx and no stack trace, whatever is sent.

Bounded for CI: a few dozen examples per operation (positive and negative generation), with an
admin key so the fuzzer reaches the services rather than stopping at 401.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders

MAX_EXAMPLES = 15
# Ticket ingest has the richest body (batches, dates, contacts): 25 examples once missed a 500 there.
TICKET_EXAMPLES = 150
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.")
RESULTS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TenantKeys]]:
    cfg = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "var",
        index_sync_seconds=0.5,
        rate_limit_public_per_minute=10_000_000,
        rate_limit_per_minute=10_000_000,
        rate_limit_ip_per_minute=10_000_000,
    )
    runtime = Runtime(cfg, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, "fuzz")
    app = create_app(cfg, runtime=runtime, warm_sync=True)
    with TestClient(app):  # runs the lifespan once: migrations, warm index, sync thread
        yield app, keys
    runtime.close()


def _check(case: Any, keys: TenantKeys, failures: list[str]) -> None:
    headers = dict(case.headers or {})
    headers.setdefault("X-API-Key", keys.admin)
    where = f"{case.method} {case.formatted_path}"
    RESULTS["cases"] += 1
    try:
        # Not schemathesis' 10 s default: a live report on a loaded 2-core box once took longer, and a
        # slow answer is not a server error (a hang still fails, after 5 minutes).
        response = case.call(headers=headers, timeout=300)
    except Exception as exc:  # the in-process transport re-raises what the server would turn into a 500
        RESULTS["5xx"] += 1
        failures.append(f"{where}: 500 from {type(exc).__name__}: {str(exc)[:200]} (body {case.body!r:.200})")
        return
    RESULTS[f"{response.status_code // 100}xx"] += 1
    if response.status_code >= 500:
        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
    for marker in STACK_TRACE_MARKERS:
        if marker in response.text:
            failures.append(f"{where}: response leaks {marker!r}")
    content_type = response.headers.get("content-type") or [""]
    if response.status_code >= 400 and content_type[0].startswith("application/json"):
        body = response.json()
        if not (isinstance(body, dict) and "message" in body.get("error", {})):
            failures.append(f"{where}: error without the standard body: {response.text[:200]}")


def _fuzz(operations: list[Any], keys: TenantKeys, failures: list[str], max_examples: int) -> None:
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
            def run(case: Any) -> None:
                _check(case, keys, failures)

            try:
                run()
            except Unsatisfiable:  # nothing to break: e.g. negative cases of an operation without inputs
                RESULTS["no_negative_cases"] += 1


def test_no_server_errors_or_stack_traces_anywhere(fuzz_world: tuple[Any, TenantKeys]) -> None:
    app, keys = fuzz_world
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    _fuzz(operations, keys, failures, MAX_EXAMPLES)
    print(f"\nfuzz: {len(operations)} operations, {dict(RESULTS)}")
    assert not failures, "\n".join(sorted(set(failures))[:20])
    assert RESULTS["cases"] >= 10 * len(operations)


def test_ticket_ingest_survives_a_longer_fuzz(fuzz_world: tuple[Any, TenantKeys]) -> None:
    app, keys = fuzz_world
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path="/v1/tickets", method="POST"
    )
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 1
    failures: list[str] = []
    before = RESULTS["cases"]
    _fuzz(operations, keys, failures, TICKET_EXAMPLES)
    print(f"\nticket fuzz: {RESULTS['cases'] - before} cases")
    assert not failures, "\n".join(sorted(set(failures))[:20])
    assert RESULTS["cases"] - before >= TICKET_EXAMPLES


# -- extreme values -----------------------------------------------------------------------
# Values a JSON schema happily allows but drivers and date arithmetic do not: the calendar's ends with
# offsets (their UTC form does not exist), integers past 32 and 64 bits, non-finite numbers (Python's
# JSON parser accepts Infinity and NaN), lone surrogates and NUL bytes. Each case is a valid request with
# one leaf (body field, query or path parameter) swapped for such a value.
EXTREME_VALUES: list[Any] = [
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00-14:00",
    "0001-01-01",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59.999999+14:00",
    "9999-12-31",
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:01Z",
    2**31,
    2**63 - 1,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**30,
    -(10**30),
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "\ud800",
    "a\x00b",
    "٣",
    "9" * 40,
    "-9" * 20,
    # Template text, for macro bodies: work and numbers without bound.
    "{{ 9 ** 9 ** 9 }}",
    "{{ 'x' * 1000000000 }}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
]
EXTREME_EXAMPLES = 12


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every place in a JSON value a scalar could go (containers themselves included)."""
    out = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _leaves(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _leaves(child, (*path, index))
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


def _extreme_request(client: TestClient, case: Any, data: Any, keys: TenantKeys, failures: list[str]) -> None:
    targets: list[tuple[str, tuple[Any, ...]]] = []
    if isinstance(case.body, (dict, list)):
        targets += [("body", p) for p in _leaves(case.body)]
    targets += [("query", (name,)) for name in (case.query or {})]
    targets += [("path", (name,)) for name in (case.path_parameters or {})]
    body, query, path_parameters = case.body, dict(case.query or {}), dict(case.path_parameters or {})
    if targets:
        where, path = data.draw(st.sampled_from(targets))
        new = data.draw(st.sampled_from(EXTREME_VALUES))
        if where == "body":
            body = _replaced(body, path, new)
        elif where == "query":
            query[path[0]] = str(new)
        else:
            path_parameters[path[0]] = str(new)
    url = case.path
    for name, value in path_parameters.items():
        url = url.replace("{" + name + "}", quote(str(value).encode("utf-8", "surrogatepass"), safe=""))
    headers = {"X-API-Key": keys.admin}
    content = None
    if case.body is not None and case.media_type == "application/json":
        content = json.dumps(body, allow_nan=True).encode()  # Infinity/NaN literals, as a client may send
        headers["content-type"] = "application/json"
    RESULTS["extreme_cases"] += 1
    label = f"{case.method} {case.path}"
    try:
        params = {
            k: str(v).encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in query.items()
        }
        response = client.request(case.method, url, params=params, content=content, headers=headers)
    except Exception as exc:
        failures.append(f"{label}: 500 from {type(exc).__name__}: {str(exc)[:200]} (body {body!r:.200})")
        return
    if response.status_code >= 500:
        failures.append(
            f"{label}: {response.status_code} {response.text[:200]} (body {body!r:.200} query {query})"
        )
    elif response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        if "message" not in response.json().get("error", {}):
            failures.append(f"{label}: error without the standard body: {response.text[:200]}")


def test_extreme_values_are_refused_with_a_4xx_never_a_500(fuzz_world: tuple[Any, TenantKeys]) -> None:
    app, keys = fuzz_world
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    failures: list[str] = []
    client = TestClient(app, raise_server_exceptions=False)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
        @settings(
            max_examples=EXTREME_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        def run(case: Any, data: Any) -> None:
            _extreme_request(client, case, data, keys, failures)

        run()
    print(f"\nextreme values: {RESULTS['extreme_cases']} cases over {len(operations)} operations")
    assert not failures, "\n".join(sorted(set(failures))[:30])
    assert RESULTS["extreme_cases"] >= 8 * len(operations)  # operations without inputs have one case


@pytest.mark.parametrize(
    "signature",
    ["sha256=é", "sha256=\u00ff" * 40, "sha256=" + "0" * 64 + "\u0080", "\u00e9", "sha256=" + "f" * 10_000],
)
def test_webhook_signature_headers_with_any_bytes_are_a_401(
    fuzz_world: tuple[Any, TenantKeys], signature: str
) -> None:
    app, keys = fuzz_world
    client = TestClient(app, raise_server_exceptions=False)
    created = client.post("/v1/shipments/webhook-secret", headers={"X-API-Key": keys.admin})
    assert created.status_code == 201
    response = client.post(
        "/v1/shipments/events",
        content=b'{"tracking_number": "X1", "status": "delivered", "occurred_at": "2026-01-01T00:00:00Z"}',
        headers={"X-Deflect-Tenant": keys.tenant_id, "X-Deflect-Signature": signature.encode("latin-1")},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31T23:59:59-05:00|1",
        "0001-01-01T00:00:00+05:00|1",
        "2026-01-01T00:00:00+00:00|99999999999999999999999",
        "2026-01-01T00:00:00+00:00|-1",
        "2026-01-01T00:00:00+00:00|",
        "|",
    ],
)
def test_forged_cursors_are_a_422(fuzz_world: tuple[Any, TenantKeys], raw: str) -> None:
    app, keys = fuzz_world
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = TestClient(app, raise_server_exceptions=False).get(
        "/v1/tickets", params={"cursor": cursor}, headers={"X-API-Key": keys.agent}
    )
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["error"]["message"]
