"""SIGTERM a real `deflect serve` while a batch ingest is in flight: the request finishes, nothing is lost."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from core.models import ChangeLog
from core.settings import Settings
from history.models import Ticket
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import Server, deflect_env
from tests.support.encoders import hashing_encoders

TENANT = "graceful"
BATCH = 300
LIMITS = {"DEFLECT_RATE_LIMIT_PER_MINUTE": "1000000", "DEFLECT_RATE_LIMIT_IP_PER_MINUTE": "1000000"}


def _ticket(i: int) -> dict[str, object]:
    return {
        "id": f"g-{i}",
        "channel": "email",
        "customer": {"email": f"buyer{i % 60}@example.com"},
        "body": f"my parcel {i} has not arrived, order #{3000 + i % 60}, please check the tracking",
    }


def _tickets_in_db_and_last_seq(settings: Settings) -> tuple[set[str], int]:
    runtime = Runtime(settings, encoders=hashing_encoders)
    try:
        with runtime.session() as session:
            stored = set(session.scalars(select(Ticket.external_id).where(Ticket.tenant_id == TENANT)))
            last_seq = (
                session.scalar(
                    select(func.max(ChangeLog.seq)).where(
                        ChangeLog.tenant_id == TENANT, ChangeLog.collection == "tickets"
                    )
                )
                or 0
            )
        return stored, int(last_seq)
    finally:
        runtime.close()


def test_sigterm_lets_an_in_flight_ingest_finish_and_saves_the_index(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, TENANT)
    runtime.close()
    env = deflect_env(settings.data_dir, **LIMITS)
    server = Server(env)
    outcome: dict[str, object] = {}

    def ingest(batch: list[int]) -> None:
        try:
            with httpx.Client(base_url=server.url, headers=keys.headers("agent"), timeout=60) as client:
                response = client.post("/v1/tickets", json={"tickets": [_ticket(i) for i in batch]})
            outcome["status"] = response.status_code
            outcome["results"] = response.json().get("results", [])
        except httpx.HTTPError as exc:
            outcome["error"] = repr(exc)
        outcome["finished"] = time.monotonic()

    try:
        server.wait_ready()
        # A first batch loads the tickets index, so the sync loop and the shutdown have something to save.
        warm = threading.Thread(target=ingest, args=(list(range(0, 50)),))
        warm.start()
        warm.join(timeout=60)
        assert outcome.get("status") == 201, outcome
        # Let the sync loop catch up, so the snapshot on disk is behind only by what follows.
        server.wait_ready(timeout=10)

        outcome.clear()
        writer = threading.Thread(target=ingest, args=(list(range(50, 50 + BATCH)),))
        started = time.monotonic()
        writer.start()
        time.sleep(0.4)  # past the request body upload, inside the handler
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        writer.join(timeout=60)
        returncode = server.process.wait(timeout=30)
        stderr = server.process.stderr.read() if server.process.stderr else ""
    finally:
        server.stop()

    # The premise: the request was still being handled when the signal arrived.
    finished = float(outcome["finished"])  # type: ignore[arg-type]
    assert finished > signalled, "the ingest ended before SIGTERM: the test proves nothing"
    print(f"\nSIGTERM {signalled - started:.2f} s into the ingest, response at {finished - started:.2f} s")
    assert outcome.get("status") == 201, outcome
    assert [r["outcome"] for r in outcome["results"]].count("created") == BATCH  # type: ignore[union-attr]
    # uvicorn re-raises the signal once it has shut down, so a supervisor sees "terminated by SIGTERM".
    assert returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr and "Cancel" not in stderr, stderr

    stored, last_seq = _tickets_in_db_and_last_seq(settings)
    assert stored == {f"g-{i}" for i in range(50 + BATCH)}
    # The shutdown caught the index up and wrote its snapshot: a restart has nothing to replay.
    meta = json.loads((settings.index_dir / TENANT / "tickets" / "meta.json").read_text())
    assert meta["last_seq"] == last_seq
    assert meta["count"] == len(stored)

    restarted = Server(env)
    try:
        restarted.wait_ready()
        with httpx.Client(base_url=restarted.url, headers=keys.headers("agent"), timeout=30) as client:
            response = client.get("/v1/tickets/g-349")
            assert response.status_code == 200, response.text
    finally:
        restarted.stop()
