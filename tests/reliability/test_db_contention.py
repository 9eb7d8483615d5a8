"""Contention that once turned into 500s under 50 clients: a capped connection pool that request threads
exhausted by holding one connection while waiting for a second, and SQLite's write lock held across a
batch's long duplicate check."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, text

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.conftest import make_tenant
from tests.support.encoders import hashing_encoders

THREADS = 60  # more than the server's 40 worker threads


def test_threads_holding_a_connection_while_opening_another_never_exhaust_the_pool(tmp_path: Path) -> None:
    # A request's own session plus an index catch-up inside it: two connections per worker thread.
    settings = Settings(data_dir=tmp_path / "var", db_pool_size=5, db_pool_timeout_seconds=2)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    barrier = threading.Barrier(THREADS, timeout=30)
    errors: list[str] = []

    def request_thread() -> None:
        try:
            with runtime.session_factory() as outer:
                outer.execute(text("SELECT 1"))
                barrier.wait()  # every thread now holds one connection
                with runtime.session_factory() as inner:
                    inner.execute(text("SELECT 1"))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    threads = [threading.Thread(target=request_thread) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    runtime.close()
    assert errors == []


def test_a_batch_commits_its_tickets_before_its_duplicate_check(tmp_path: Path) -> None:
    """The batch's write transaction ends with its last write: the duplicate check (each ticket against
    the others, seconds for a large batch) runs after the COMMIT, so other writers are not kept waiting."""
    settings = Settings(data_dir=tmp_path / "var")
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    tenant = make_tenant(runtime, "acme")
    words = ["parcel", "refund", "return", "invoice", "damaged", "cancel", "address", "late", "box", "size"]
    batch = [
        {
            "id": f"b-{i}",
            "channel": "email",
            "body": f"my {words[i % 10]} and {words[(i // 10) % 10]} question number {i}",
            "customer": {"email": f"c{i % 10}@example.com"},
        }
        for i in range(40)
    ]
    app = create_app(settings, runtime=runtime, warm_sync=True)
    statements: list[str] = []
    with TestClient(app) as client:

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if threading.current_thread().name != "index-sync":  # the request's statements only
                statements.append(statement.split()[0].upper())

        def on_commit(conn: Any) -> None:
            if threading.current_thread().name != "index-sync":
                statements.append("COMMIT")

        event.listen(runtime.db_engine, "before_cursor_execute", on_execute)
        event.listen(runtime.db_engine, "commit", on_commit)
        try:
            response = client.post("/v1/tickets", json={"tickets": batch}, headers=tenant.headers("agent"))
        finally:
            event.remove(runtime.db_engine, "before_cursor_execute", on_execute)
            event.remove(runtime.db_engine, "commit", on_commit)
    runtime.close()
    assert response.status_code == 201, response.text
    # Some tickets share a customer: the duplicate check had something to read.
    assert any(r["duplicates"] for r in response.json()["results"])
    last_write = max(i for i, s in enumerate(statements) if s.startswith(("INSERT", "UPDATE", "DELETE")))
    assert statements[last_write + 1] == "COMMIT", statements[last_write - 2 : last_write + 5]
    assert any(s.startswith("SELECT") for s in statements[last_write + 1 :])  # the check came after
