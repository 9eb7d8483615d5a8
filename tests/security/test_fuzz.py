"""Schemathesis over the whole OpenAPI surface: no 5xx and no stack trace, whatever is sent.

Bounded for CI: a few dozen examples per operation (positive and negative generation), with an
admin key so the fuzzer reaches the services rather than stopping at 401.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant

MAX_EXAMPLES = 15
# Ticket ingest has the richest body (batches, dates, contacts): 25 examples once missed a 500 there.
TICKET_EXAMPLES = 150
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.")
RESULTS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TenantKeys]]:
    cfg = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "var",
        encoder="hashing",
        index_sync_seconds=0.5,
        rate_limit_public_per_minute=10_000_000,
        rate_limit_per_minute=10_000_000,
        rate_limit_ip_per_minute=10_000_000,
    )
    runtime = Runtime(cfg)
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
        response = case.call(headers=headers)
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
