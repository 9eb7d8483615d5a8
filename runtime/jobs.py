"""Background work that runs once across replicas: a job table, claimed by `deflect worker` processes.

The API replicas run no background job. A worker claims a job with a conditional UPDATE (queued, or
running under a lease that has expired), so two workers never hold one job; a heartbeat thread
renews the lease while the job runs. A worker killed mid-job stops renewing: once its lease runs out
the next worker claims the job and resumes it from the progress the job last checkpointed. The same
code runs on SQLite (one machine) and PostgreSQL (many).

Jobs are enqueued by anyone (the CLI, a schedule in every worker) with an optional dedupe key: the
unique key makes the same scheduled run insert once however many processes enqueue it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from channels import inbound, outbound, transport
from channels.models import Mailbox
from core.clock import utcnow
from core.errors import InvalidInputError
from core.models import Job, Tenant
from indexing.pgsearch import PgSearchEngine, reconcile
from insights import snapshots
from kb.service import COLLECTION as KB_COLLECTION
from kb.suggest import article_cutoff, tune_ranker
from kb.tuning import retrain_due
from runtime import Runtime, item_sources

log = logging.getLogger(__name__)

GLOBAL = "*"  # tenant_id of a job that is no single tenant's
MAX_ATTEMPTS = 5


class LeaseLost(Exception):
    """Another worker took the job over (this one stalled past its lease): stop without writing."""


def enqueue(
    session: Session,
    *,
    kind: str,
    tenant_id: str = GLOBAL,
    args: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Adds a job; False when a job with this dedupe key already exists (enqueued elsewhere)."""
    values = {
        "kind": kind,
        "tenant_id": tenant_id,
        "args": dict(args or {}),
        "dedupe_key": dedupe_key,
        "status": "queued",
        "attempts": 0,
        "progress": {},
        "run_after": utcnow(),
        "created_at": utcnow(),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return session.execute(statement.returning(Job.id)).first() is not None


@dataclass
class JobContext:
    """What a running job sees: its arguments, its last checkpoint, and how to write a new one."""

    worker: Worker
    job_id: int
    kind: str
    tenant_id: str
    args: dict[str, Any]
    progress: dict[str, Any] = field(default_factory=dict)

    def checkpoint(self, **progress: Any) -> None:
        """Records progress in its own transaction, so a worker that dies after it resumes from here."""
        self.progress.update(progress)
        self.worker._write(self.job_id, progress=dict(self.progress))
        pause = self.worker.runtime.settings.job_batch_pause_seconds
        if pause:
            time.sleep(pause)


Handler = Callable[[JobContext], None]


def reconcile_index(ctx: JobContext) -> None:
    """Index maintenance: the tenant's search rows made to match its domain rows, resumably."""
    runtime = ctx.worker.runtime
    name = str(ctx.args["collection"])
    engine = runtime.search
    if not isinstance(engine, PgSearchEngine):
        # In-process indexes belong to each replica, which rebuilds its own; nothing shared to do.
        return
    after = int(ctx.progress.get("after_id", 0))
    ctx.checkpoint(starts=[*ctx.progress.get("starts", []), after])
    written = reconcile(
        engine,
        ctx.tenant_id,
        name,
        force=bool(ctx.args.get("force", False)),
        after_id=after,
        batch=int(ctx.args.get("batch", 500)),
        checkpoint=lambda last_id: ctx.checkpoint(after_id=last_id),
    )
    ctx.checkpoint(written=int(ctx.progress.get("written", 0)) + written)


def poll_mailbox(ctx: JobContext) -> None:
    """One pass over a mailbox's new mail. Ingest is idempotent by Message-ID and the mailbox keeps its
    last UID, so a pass that a killed worker left half done is simply run again."""
    runtime = ctx.worker.runtime
    try:
        report = inbound.poll_mailbox(
            runtime.session_factory, runtime.search, runtime.settings, mailbox_id=int(ctx.args["mailbox_id"])
        )
    except transport.MailboxError as exc:
        # Already recorded on the mailbox (its last_error, shown to the seller); the next minute's job
        # tries again, so retrying this one with backoff would only pile up attempts.
        ctx.checkpoint(error=str(exc))
        return
    ctx.checkpoint(fetched=report.fetched, created=report.created, quarantined=report.quarantined)


def send_outbox(ctx: JobContext) -> None:
    """Sends the approved mail that is due; each message is claimed by a conditional update and its
    Message-ID recorded before sending, so workers racing over one outbox never send a mail twice."""
    runtime = ctx.worker.runtime
    report = outbound.deliver_due(runtime.session_factory, runtime.settings)
    ctx.checkpoint(sent=report.sent, failed=report.failed, blocked=report.blocked)


def retrain_ranker(ctx: JobContext) -> None:
    """The tenant's article ranker retrained on its data (enqueued by `schedule` once enough new
    resolved tickets and feedback events arrived); too little data is a finished job, not a failure."""
    runtime = ctx.worker.runtime
    try:
        with runtime.session() as session:
            report = tune_ranker(session, runtime.search, tenant_id=ctx.tenant_id)
    except InvalidInputError as exc:
        ctx.checkpoint(skipped=exc.message)
        return
    ctx.checkpoint(version=report.version, replay={k: v.as_dict() for k, v in report.replay.items()})


def precompute_reports(ctx: JobContext) -> None:
    """The tenant's content-gap report, computed ahead of the reports page (insights/snapshots.py)."""
    runtime = ctx.worker.runtime
    runtime.search.catch_up(ctx.tenant_id, KB_COLLECTION)
    with runtime.session() as session:
        report = snapshots.precompute_content_gaps(
            session,
            runtime.search,
            tenant_id=ctx.tenant_id,
            threshold=article_cutoff(session, runtime.search, tenant_id=ctx.tenant_id),
        )
    ctx.checkpoint(candidates=report.candidates, clusters=len(report.clusters))


HANDLERS: dict[str, Handler] = {
    "index.reconcile": reconcile_index,
    "reports.precompute": precompute_reports,
    "retrain_ranker": retrain_ranker,
    "mail.poll": poll_mailbox,
    "mail.send": send_outbox,
}


class Worker:
    """Claims and runs jobs one at a time; several may run on as many machines."""

    def __init__(
        self, runtime: Runtime, *, handlers: Mapping[str, Handler] = HANDLERS, name: str | None = None
    ):
        self.runtime = runtime
        self.handlers = dict(handlers)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.lease = timedelta(seconds=runtime.settings.job_lease_seconds)
        self._scheduled_slot: str | None = None
        self._scheduled_minute: str | None = None

    # -- claiming ---------------------------------------------------------------
    def claim(self) -> JobContext | None:
        now = utcnow()
        claimable = or_(Job.status == "queued", and_(Job.status == "running", Job.lease_until < now))
        with self.runtime.session() as session:
            candidates = list(
                session.scalars(
                    select(Job.id)
                    .where(claimable, Job.run_after <= now, Job.kind.in_(list(self.handlers)))
                    .order_by(Job.id)
                    .limit(10)
                )
            )
        for job_id in candidates:
            with self.runtime.session() as session:
                # The WHERE is re-checked on the row as it is when this UPDATE gets it: of two workers
                # racing for one job, the second finds it claimed and updates nothing.
                claimed = session.execute(
                    update(Job)
                    .where(Job.id == job_id, claimable)
                    .values(
                        status="running",
                        locked_by=self.name,
                        lease_until=now + self.lease,
                        attempts=Job.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) != 1:
                    continue
                job = session.get(Job, job_id)
                assert job is not None
                return JobContext(
                    worker=self,
                    job_id=job.id,
                    kind=job.kind,
                    tenant_id=job.tenant_id,
                    args=dict(job.args or {}),
                    progress=dict(job.progress or {}),
                )
        return None

    def _write(self, job_id: int, **values: Any) -> None:
        """Updates the job only while this worker still holds it; renews the lease on the way."""
        with self.runtime.session() as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.locked_by == self.name, Job.status == "running")
                .values(**{"lease_until": utcnow() + self.lease, **values})
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise LeaseLost(f"job {job_id} was taken over by another worker")

    # -- running ----------------------------------------------------------------
    def run_once(self) -> bool:
        """Runs one claimable job to its end; False when there was none."""
        ctx = self.claim()
        if ctx is None:
            return False
        stop = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(ctx.job_id, stop), daemon=True)
        heartbeat.start()
        try:
            self.handlers[ctx.kind](ctx)
        except LeaseLost:
            log.warning("job %s (%s) lost its lease; left to the worker that holds it", ctx.job_id, ctx.kind)
            return True
        except Exception as exc:
            log.exception("job %s (%s) failed", ctx.job_id, ctx.kind)
            self._fail(ctx, exc)
            return True
        finally:
            stop.set()
            heartbeat.join()
        try:
            self._write(ctx.job_id, status="done", finished_at=utcnow(), lease_until=None)
        except LeaseLost:
            log.warning("job %s finished after its lease ran out; the new holder completes it", ctx.job_id)
        return True

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not stop.wait(interval):
            try:
                self._write(job_id)
            except LeaseLost:
                return
            except Exception:  # a database hiccup: the next beat (or checkpoint) tries again
                log.warning("lease renewal of job %s failed", job_id, exc_info=True)

    def _fail(self, ctx: JobContext, exc: Exception) -> None:
        with self.runtime.session() as session:
            job = session.get(Job, ctx.job_id)
            if job is None or job.locked_by != self.name:
                return
            job.error = f"{type(exc).__name__}: {exc}"[:2000]
            job.lease_until = None
            if job.attempts >= MAX_ATTEMPTS:
                job.status, job.finished_at = "failed", utcnow()
            else:  # back off, then any worker retries it from its last checkpoint
                job.status, job.run_after = "queued", utcnow() + timedelta(seconds=30 * 2**job.attempts)

    def schedule(self, now: datetime | None = None) -> int:
        """Enqueues this hour's index maintenance for every tenant and collection, its report snapshots, a
        ranker retraining for each tenant with enough new data, and this minute's mail passes; each
        worker calls it, and the dedupe keys make every run insert once. Returns how many it inserted."""
        now = now or utcnow()
        added = self._schedule_mail(now)
        slot = now.strftime("%Y-%m-%dT%H")
        if slot == self._scheduled_slot:
            return added  # this worker already enqueued (or found) this hour's runs
        with self.runtime.session() as session:
            tenants = list(session.scalars(select(Tenant.id)))
            for tenant_id in tenants:
                for collection in item_sources():
                    added += enqueue(
                        session,
                        kind="index.reconcile",
                        tenant_id=tenant_id,
                        args={"collection": collection},
                        dedupe_key=f"index.reconcile:{tenant_id}:{collection}:{slot}",
                    )
                added += enqueue(
                    session,
                    kind="reports.precompute",
                    tenant_id=tenant_id,
                    dedupe_key=f"reports.precompute:{tenant_id}:{slot}",
                )
                due, version = retrain_due(
                    session, tenant_id=tenant_id, min_new=self.runtime.settings.ranker_retrain_events
                )
                if due:
                    # One retraining per model version: the next is due once enough arrive after it.
                    added += enqueue(
                        session,
                        kind="retrain_ranker",
                        tenant_id=tenant_id,
                        dedupe_key=f"retrain_ranker:{tenant_id}:v{version}",
                    )
        self._scheduled_slot = slot
        return added

    def _schedule_mail(self, now: datetime) -> int:
        """One poll per enabled mailbox and one outbox pass per minute, across all workers. A mailbox
        whose previous poll is still queued or running gets no second one (two passes at once would
        only race over the same UIDs)."""
        if "mail.poll" not in self.handlers or "mail.send" not in self.handlers:
            return 0
        minute = now.strftime("%Y-%m-%dT%H:%M")
        if minute == self._scheduled_minute:
            return 0
        added = 0
        with self.runtime.session() as session:
            busy_ids = {
                args.get("mailbox_id")
                for args in session.scalars(
                    select(Job.args).where(Job.kind == "mail.poll", Job.status.in_(("queued", "running")))
                )
            }
            for mailbox_id, tenant_id in session.execute(
                select(Mailbox.id, Mailbox.tenant_id).where(Mailbox.enabled.is_(True))
            ):
                if mailbox_id in busy_ids:
                    continue
                added += enqueue(
                    session,
                    kind="mail.poll",
                    tenant_id=tenant_id,
                    args={"mailbox_id": mailbox_id},
                    dedupe_key=f"mail.poll:{mailbox_id}:{minute}",
                )
            added += enqueue(session, kind="mail.send", dedupe_key=f"mail.send:{minute}")
        self._scheduled_minute = minute
        return added

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.schedule()
                if not self.run_once():
                    stop.wait(idle_seconds)
            except Exception:
                log.exception("worker loop error; retrying")
                stop.wait(idle_seconds)
