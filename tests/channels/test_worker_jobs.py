"""Mailbox polling and outbox sending as `deflect worker` jobs: once per minute across any number of
workers, against the real Dovecot and SMTP servers."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from sqlalchemy import select

from channels import outbound
from channels.models import Mailbox
from core.clock import utcnow
from core.models import Job
from history.models import Ticket
from replies.models import Draft
from runtime import Runtime
from runtime.jobs import Worker
from tests.channels.conftest import Box
from tests.channels.mails import marketplace_mail
from tests.channels.servers import Dovecot, SmtpRelay


def _run_all(worker: Worker) -> int:
    ran = 0
    while worker.run_once():
        ran += 1
    return ran


def _mail_jobs(runtime: Runtime) -> list[tuple[str, str, dict[str, object]]]:
    with runtime.session() as session:
        return [
            (job.kind, job.status, dict(job.progress or {}))
            for job in session.scalars(select(Job).where(Job.kind.like("mail.%")).order_by(Job.id))
        ]


def test_workers_poll_each_mailbox_and_send_the_outbox_once_a_minute(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    raw, relay, _ = marketplace_mail("amazon", "en", 1, box.user)
    dovecot.append(box.user, [raw])
    first, second = Worker(runtime, name="w1"), Worker(runtime, name="w2")
    now = utcnow()

    # Both workers schedule the same minute: one poll of the mailbox and one outbox pass, not two.
    first.schedule(now)
    second.schedule(now)
    assert sorted(kind for kind, _, _ in _mail_jobs(runtime)) == ["mail.poll", "mail.send"]
    _run_all(second)
    jobs = _mail_jobs(runtime)
    assert all(status == "done" for _, status, _ in jobs), jobs
    assert [progress for kind, _, progress in jobs if kind == "mail.poll"] == [
        {"fetched": 1, "created": 1, "quarantined": 0}
    ]
    with runtime.session() as session:
        [ticket] = session.scalars(select(Ticket).where(Ticket.tenant_id == box.tenant_id))
        draft = Draft(
            tenant_id=box.tenant_id,
            ticket_id=ticket.external_id,
            channel="amazon",
            locale="en",
            message="",
            reply="Your parcel left our warehouse today.",
        )
        session.add(draft)
        session.flush()
        outbound.approve_draft(session, tenant_id=box.tenant_id, draft_id=draft.id, text=None, actor="agent")

    # The next minute's pass sends the approved reply into the marketplace thread, exactly once.
    later = now + timedelta(minutes=1)
    first.schedule(later)
    second.schedule(later)
    _run_all(first)
    [accepted] = smtp_relay.to(relay)
    assert "left our warehouse" in message_from_bytes(accepted.data, policy=policy.default).get_content()
    sends = [progress for kind, _, progress in _mail_jobs(runtime) if kind == "mail.send"]
    assert sends[-1]["sent"] == 1 and sum(int(str(p.get("sent", 0))) for p in sends) == 1


def test_a_poll_still_waiting_gets_no_second_one_and_a_broken_mailbox_does_not_pile_up_retries(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    worker = Worker(runtime, name="w1")
    now = utcnow()
    worker.schedule(now)
    worker.schedule(now + timedelta(minutes=1))  # the first poll has not run yet
    assert [kind for kind, _, _ in _mail_jobs(runtime)].count("mail.poll") == 1

    with runtime.session() as session:
        session.get_one(Mailbox, box.mailbox_id).imap_port = 1  # nothing listens there
    _run_all(worker)
    [poll] = [(status, progress) for kind, status, progress in _mail_jobs(runtime) if kind == "mail.poll"]
    assert poll[0] == "done" and "error" in poll[1]
    with runtime.session() as session:
        assert session.get_one(Mailbox, box.mailbox_id).last_error
