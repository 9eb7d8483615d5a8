"""SIGKILL a real server while it ingests tickets; after a restart nothing acknowledged is lost or doubled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from core.settings import Settings
from history.models import Ticket
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import Server, deflect_env
from tests.support.encoders import hashing_encoders

TENANT = "crash-tickets"
WRITERS = 4
BATCH = 10
LIMITS = {"DEFLECT_RATE_LIMIT_PER_MINUTE": "1000000", "DEFLECT_RATE_LIMIT_IP_PER_MINUTE": "1000000"}


def _ticket(i: int) -> dict[str, object]:
    return {
        "id": f"k-{i}",
        "channel": "email",
        "customer": {"email": f"buyer{i % 40}@example.com"},
        "body": f"where is my parcel number {i}, order #{2000 + i % 40}",
    }


def _db_and_index(settings: Settings) -> tuple[list[str], set[int], set[int]]:
    runtime = Runtime(settings, encoders=hashing_encoders)
    try:
        with runtime.session() as session:
            rows = list(
                session.execute(select(Ticket.id, Ticket.external_id).where(Ticket.tenant_id == TENANT))
            )
        collection = runtime.search.collection(TENANT, "tickets")
        assert collection.index.count() == len(collection.items)
        return [r.external_id for r in rows], {r.id for r in rows}, set(collection.items)
    finally:
        runtime.close()


def test_server_killed_while_ingesting_tickets_loses_and_doubles_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, TENANT)
    runtime.close()
    server = Server(deflect_env(settings.data_dir, **LIMITS))
    acknowledged: set[str] = set()
    batches = [list(range(start, start + BATCH)) for start in range(0, 2000, BATCH)]
    attempted: list[list[int]] = []
    lock = threading.Lock()

    def writer(client: httpx.Client, mine: list[list[int]]) -> None:
        for batch in mine:
            with lock:
                attempted.append(batch)
            try:
                response = client.post("/v1/tickets", json={"tickets": [_ticket(i) for i in batch]})
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                with lock:
                    acknowledged.update(f"k-{i}" for i in batch)

    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, headers=keys.headers("agent"), timeout=10) as client:
            threads = [
                threading.Thread(target=writer, args=(client, batches[w::WRITERS])) for w in range(WRITERS)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            # Well into the stream, with a batch in flight on every writer.
            while len(acknowledged) < 150 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.process.send_signal(9)
            for thread in threads:
                thread.join(timeout=30)
    finally:
        server.stop()
    assert 150 <= len(acknowledged) < 2000

    external_ids, row_ids, indexed = _db_and_index(settings)
    stored = set(external_ids)
    assert len(external_ids) == len(stored), "a ticket was stored twice"
    assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:10]}"
    # A batch is one transaction: each in flight at the kill is stored whole or not at all.
    for batch in attempted:
        assert len({f"k-{i}" for i in batch} & stored) in (0, len(batch)), "a batch was half written"
    assert len(stored) - len(acknowledged) <= WRITERS * BATCH
    assert indexed == row_ids, "the restarted index disagrees with the database"
    print(
        f"\nticket crash: attempted {len(attempted) * BATCH}, acknowledged {len(acknowledged)}, "
        f"stored {len(stored)}, lost {len(acknowledged - stored)}"
    )

    # The clients retry everything they attempted: ingest is idempotent by external id.
    retried = sorted(i for batch in attempted for i in batch)
    restarted = Server(deflect_env(settings.data_dir, **LIMITS))
    try:
        restarted.wait_ready()
        with httpx.Client(base_url=restarted.url, headers=keys.headers("agent"), timeout=30) as client:
            outcomes = []
            for start in range(0, len(retried), 100):
                chunk = [_ticket(i) for i in retried[start : start + 100]]
                response = client.post("/v1/tickets", json={"tickets": chunk})
                outcomes += [r["outcome"] for r in response.json()["results"]]
            assert outcomes.count("unchanged") == len(stored)
        restarted.wait_ready(timeout=10)  # the retried new tickets are indexed within the sync interval
    finally:
        restarted.stop()
    external_ids, row_ids, indexed = _db_and_index(settings)
    assert sorted(external_ids) == sorted(f"k-{i}" for i in retried)
    assert indexed == row_ids
    runtime = Runtime(settings, encoders=hashing_encoders)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == len(retried)
    runtime.close()


def test_a_restart_over_an_empty_collections_snapshot_does_not_hang(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    first = Runtime(settings, encoders=hashing_encoders)
    first.migrate()
    first.search.collection(TENANT, "articles")  # a tenant without articles: an empty snapshot is saved
    first.close()
    restarted = Runtime(settings, encoders=hashing_encoders)
    loader = threading.Thread(target=restarted.search.collection, args=(TENANT, "articles"), daemon=True)
    loader.start()
    loader.join(timeout=20)
    restarted.close()
    assert not loader.is_alive(), "loading an empty collection's snapshot deadlocked (the server never warms)"
