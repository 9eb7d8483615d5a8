"""kill -9 of the real `deflect channels` processes: the poller mid-batch, the sender around SMTP acceptance.

Afterwards every message is a ticket exactly once, and every reply reached the customer exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from email import message_from_bytes, policy

from sqlalchemy import func, select

from channels import inbound, outbound
from channels.models import InboundMail, OutboxMessage
from history.models import Ticket
from replies.models import Draft
from runtime import Runtime
from tests.channels.conftest import Box
from tests.channels.mails import marketplace_mail, shop_mail
from tests.channels.servers import Accepted, Dovecot, SmtpRelay
from tests.reliability.procs import deflect, deflect_env

MAILS = 300


def _env(runtime: Runtime, **extra: str) -> dict[str, str]:
    assert runtime.settings.secret_key is not None
    return deflect_env(
        runtime.settings.data_dir,
        DEFLECT_SECRET_KEY=runtime.settings.secret_key.get_secret_value(),
        DEFLECT_OUTBOX_RECONCILE_SECONDS="0",
        **extra,
    )


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.session() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
        records = session.scalar(select(func.count()).select_from(InboundMail)) or 0
        distinct = session.scalar(select(func.count(func.distinct(InboundMail.message_id)))) or 0
    return int(tickets), int(records), int(distinct)


def test_poller_killed_mid_batch_loses_and_doubles_nothing(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    langs = ["en", "de", "fr", "es", "it"]
    raws = [shop_mail(langs[i % 5], i, box.user)[0] for i in range(MAILS // 2)]
    raws += [marketplace_mail("amazon", langs[i % 5], i, box.user)[0] for i in range(MAILS // 2)]
    dovecot.append(box.user, raws)
    env = _env(runtime, DEFLECT_MAIL_BATCH_SIZE="5")

    poller = deflect(["channels", "poll", "--tenant", box.tenant_id], env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _counts(runtime)[1] < MAILS // 5:
            assert poller.poll() is None, poller.stdout.read() if poller.stdout else ""
            time.sleep(0.02)
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=10)
    finally:
        if poller.poll() is None:
            poller.kill()
    at_kill = _counts(runtime)
    assert 0 < at_kill[1] < MAILS, f"the kill must land mid-run, not after it: {at_kill}"
    assert at_kill[0] == at_kill[1] == at_kill[2]  # a batch is in whole or not at all

    again = deflect(["channels", "poll", "--once", "--tenant", box.tenant_id], env)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output

    assert _counts(runtime) == (MAILS, MAILS, MAILS)


def _queue_reply(runtime: Runtime, dovecot: Dovecot, box: Box) -> tuple[int, str]:
    raw, relay, _ = marketplace_mail("amazon", "en", 1, box.user)
    dovecot.append(box.user, [raw])
    inbound.poll_mailbox(runtime.session_factory, runtime.search, runtime.settings, mailbox_id=box.mailbox_id)
    ticket_id = inbound.ticket_id_for(str(message_from_bytes(raw, policy=policy.default)["Message-ID"]))
    with runtime.session() as session:
        draft = Draft(
            tenant_id=box.tenant_id,
            ticket_id=ticket_id,
            channel="amazon",
            locale="en",
            message="",
            reply="Shipped today.",
        )
        session.add(draft)
        session.flush()
        row = outbound.approve_draft(
            session, tenant_id=box.tenant_id, draft_id=draft.id, text=None, actor="agent"
        )
        return row.id, relay


def _status(runtime: Runtime, outbox_id: int) -> OutboxMessage:
    with runtime.session() as session:
        row = session.get_one(OutboxMessage, outbox_id)
        session.expunge(row)
        return row


def _send_once(runtime: Runtime) -> subprocess.Popen[str]:
    return deflect(["channels", "send", "--once"], _env(runtime))


def _kill_sender_in(relay: SmtpRelay, hook: str) -> list[subprocess.Popen[str]]:
    senders: list[subprocess.Popen[str]] = []

    def kill(_accepted: Accepted) -> str | None:
        os.kill(senders[0].pid, signal.SIGKILL)
        senders[0].wait(timeout=10)
        return "451 4.3.0 connection lost" if hook == "before_accept" else None

    setattr(relay, hook, kill)
    return senders


def test_sender_killed_between_smtp_accept_and_commit_sends_once(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    outbox_id, relay = _queue_reply(runtime, dovecot, box)
    # The relay stores and delivers the message, then kills the sender before its 250 goes back.
    senders = _kill_sender_in(smtp_relay, "after_accept")
    senders.append(_send_once(runtime))
    senders[0].wait(timeout=120)
    assert senders[0].returncode == -signal.SIGKILL
    assert len(smtp_relay.to(relay)) == 1
    interrupted = _status(runtime, outbox_id)
    assert interrupted.status == "sending" and interrupted.attempts == 1
    smtp_relay.after_accept = None

    restarted = _send_once(runtime)
    output, _ = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, output

    row = _status(runtime, outbox_id)
    assert row.status == "sent" and "server took it" in (row.last_error or "")
    assert len(smtp_relay.to(relay)) == 1  # exactly once from the customer's view
    assert (
        message_from_bytes(smtp_relay.to(relay)[0].data, policy=policy.default)["Message-ID"]
        == row.message_id
    )


def test_sender_killed_before_the_server_accepted_sends_once_with_the_same_message_id(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    outbox_id, relay = _queue_reply(runtime, dovecot, box)
    senders = _kill_sender_in(smtp_relay, "before_accept")
    senders.append(_send_once(runtime))
    senders[0].wait(timeout=120)
    assert senders[0].returncode == -signal.SIGKILL
    assert smtp_relay.to(relay) == []
    assert _status(runtime, outbox_id).status == "sending"
    smtp_relay.before_accept = None

    restarted = _send_once(runtime)
    output, _ = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, output

    row = _status(runtime, outbox_id)
    assert row.status == "sent" and row.attempts == 2
    [delivered] = smtp_relay.to(relay)
    assert message_from_bytes(delivered.data, policy=policy.default)["Message-ID"] == row.message_id
