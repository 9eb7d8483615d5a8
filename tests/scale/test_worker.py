"""Background jobs run once across processes, and a worker killed mid-job is picked up again: a real
`deflect worker` process on a real PostgreSQL, killed with SIGKILL between two checkpoints."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core.models import Job
from core.settings import Settings
from runtime import Runtime
from runtime.jobs import JobContext, Worker, enqueue
from tests.conftest import make_tenant
from tests.history.helpers import ingest, ticket
from tests.reliability.procs import deflect, deflect_env
from tests.support.encoders import hashing_encoders

pytestmark = pytest.mark.postgres


def _runtime(url: str, data_dir: Path, **overrides: object) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        job_lease_seconds=2.0,
        **overrides,  # type: ignore[arg-type]
    )
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    return runtime


def _job(runtime: Runtime) -> Job:
    with runtime.session() as session:
        # The test's own job: the worker also schedules its periodic ones (dedupe-keyed) beside it.
        job = session.scalars(select(Job).where(Job.dedupe_key.is_(None))).one()
        session.expunge(job)
        return job


def _search_rows(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.execute(text("SELECT count(*) FROM search_tickets")).scalar() or 0)


def test_a_worker_killed_mid_job_is_resumed_from_its_checkpoint(pgvector_url: str, tmp_path: Path) -> None:
    runtime = _runtime(pgvector_url, tmp_path / "app")
    ingest(
        runtime,
        "acme",
        *(ticket(f"t-{i}", f"Question number {i} about parcel {i}") for i in range(40)),
        check=False,
    )
    assert _search_rows(runtime) == 40
    with runtime.session() as session:  # the index lost its rows (a restore, a model change): rebuild them
        session.execute(text("DELETE FROM search_tickets"))
        enqueue(session, kind="index.reconcile", tenant_id="acme", args={"collection": "tickets", "batch": 4})

    env = deflect_env(
        tmp_path / "worker",
        database_url=pgvector_url,
        DEFLECT_JOB_LEASE_SECONDS="2",
        DEFLECT_JOB_BATCH_PAUSE_SECONDS="0.4",
    )
    proc = deflect(["worker"], env)
    try:
        deadline = time.monotonic() + 120
        while int(_job(runtime).progress.get("after_id", 0)) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the worker never checkpointed"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    killed = _job(runtime)
    checkpoint = int(killed.progress["after_id"])
    assert killed.status == "running" and killed.attempts == 1
    assert 0 < _search_rows(runtime) < 40  # mid-job: some batches written, not all

    # A second worker takes the job over once the dead one's lease has run out, from the checkpoint.
    successor = Worker(runtime)
    deadline = time.monotonic() + 30
    while _job(runtime).status != "done":  # it may run the periodic jobs first
        assert time.monotonic() < deadline, "the killed worker's job was never picked up"
        if not successor.run_once():
            time.sleep(0.2)
    done = _job(runtime)
    assert done.status == "done" and done.attempts == 2 and done.locked_by == successor.name
    assert done.progress["starts"] == [0, checkpoint]
    assert _search_rows(runtime) == 40
    runtime.close()


def test_each_job_runs_exactly_once_across_workers(pgvector_url: str, tmp_path: Path) -> None:
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def record(ctx: JobContext) -> None:
        with lock:
            runs[ctx.job_id] += 1
        time.sleep(0.02)  # long enough for the other workers to race for the same rows

    runtimes = [_runtime(pgvector_url, tmp_path / f"p{i}") for i in range(3)]
    with runtimes[0].session() as session:
        for n in range(30):
            enqueue(session, kind="record", args={"n": n})
    workers = [Worker(r, handlers={"record": record}) for r in runtimes]

    def drain(worker: Worker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(runs.values()) == [1] * 30
    with runtimes[0].session() as session:
        assert session.scalar(select(func.count()).where(Job.status == "done")) == 30
        by_worker = Counter(session.scalars(select(Job.locked_by)))
    assert len(by_worker) >= 2  # the work was shared, not serialised on one worker

    # Every worker schedules the hour's maintenance; each scheduled run exists once.
    make_tenant(runtimes[0], "acme")
    added = [w.schedule() for w in workers]
    # Index maintenance of articles and tickets plus the report snapshot, by whichever worker came first.
    assert sorted(added) == [0, 0, 3]
    for runtime in runtimes:
        runtime.close()
