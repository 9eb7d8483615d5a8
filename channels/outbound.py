"""Replies and courtesy notes sent by SMTP through an outbox, exactly once from the customer's view.

Life of an outgoing mail: `pending` (approved, Message-ID fixed) -> `sending` (committed *before* the
SMTP conversation) -> `sent`; or `blocked` (the channel's compliance check, run again at send time, found
a blocking violation: nothing is sent), `failed` (permanent refusal or attempts used up), `cancelled`.
Every transition is a compare-and-set on the status, so two workers, or a worker and the poller, never
both act on one row.

A crash between the server's acceptance and our commit leaves the row in `sending`. It is never sent
again blindly: every message also goes to the mailbox's own address (an envelope copy, no header), so
after DEFLECT_OUTBOX_RECONCILE_SECONDS the worker searches the mailbox for the Message-ID. Found: the
server took it, mark it sent. Not found: it never left, send it again with the same Message-ID. The
poller, seeing the copy arrive, marks it sent as well.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from channels import transport
from channels.models import InboundMail, Mailbox, OutboxMessage
from channels.schemas import OutboxRead, SendReport
from channels.service import password_of
from compliance.service import check
from core.clock import utcnow
from core.db import session_scope
from core.errors import ConflictError, DeflectError, InvalidInputError, NotFoundError
from core.settings import Settings
from history.lookup import get_ticket
from history.models import MergeGroup, Ticket
from replies import merge as merge_service
from replies.models import Draft

log = logging.getLogger(__name__)
MAX_REFERENCES = 20
MAX_BACKOFF_SECONDS = 3600.0
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|r|rif|sv|antw|réf)\s*:", re.IGNORECASE)
OPEN_STATUSES = ("pending", "sending")


def _latest_inbound(session: Session, ticket: Ticket) -> InboundMail | None:
    """The mail this ticket came in as, else the newest mail of its thread."""
    own = session.scalar(
        select(InboundMail)
        .where(InboundMail.tenant_id == ticket.tenant_id, InboundMail.ticket_id == ticket.external_id)
        .limit(1)
    )
    if own is not None or ticket.thread is None:
        return own
    return session.scalar(
        select(InboundMail)
        .where(InboundMail.tenant_id == ticket.tenant_id, InboundMail.thread_id == ticket.thread.external_id)
        .order_by(InboundMail.received_at.desc(), InboundMail.id.desc())
        .limit(1)
    )


def _new_message_id(address: str) -> str:
    domain = address.rpartition("@")[2] or "deflect.invalid"
    return f"<{uuid.uuid4().hex}.deflect@{domain}>"


def queue_mail(
    session: Session,
    *,
    tenant_id: str,
    ticket_id: str,
    body: str,
    kind: str,
    actor: str,
    draft_id: int | None = None,
    merge_group_id: int | None = None,
) -> OutboxMessage:
    """Queues a mail into the ticket's thread, to the address its last message came from (the marketplace
    relay for marketplace threads), with In-Reply-To and References; ConflictError when it came by no mail."""
    ticket = get_ticket(session, tenant_id=tenant_id, ticket_id=ticket_id)
    inbound = _latest_inbound(session, ticket)
    if inbound is None:
        raise ConflictError(
            f"ticket {ticket_id} did not arrive by mail; answer it on its own channel",
            details={"ticket_id": ticket_id, "channel": ticket.channel},
        )
    mailbox = session.get_one(Mailbox, inbound.mailbox_id)
    subject = inbound.subject or f"Re: {ticket.subject}".strip()
    if not _REPLY_PREFIX.match(subject):
        subject = f"Re: {subject}"
    outbox = OutboxMessage(
        tenant_id=tenant_id,
        mailbox_id=mailbox.id,
        kind=kind,
        ticket_id=ticket.external_id,
        thread_id=inbound.thread_id,
        draft_id=draft_id,
        merge_group_id=merge_group_id,
        channel=ticket.channel,
        locale=ticket.locale,
        to_address=inbound.reply_to,
        subject=subject[:1000],
        body=body,
        message_id=_new_message_id(mailbox.address),
        in_reply_to=inbound.message_id,
        references=[*inbound.references, inbound.message_id][-MAX_REFERENCES:],
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        compliance={},
        approved_by=actor,
    )
    session.add(outbox)
    session.flush()
    return outbox


def approve_draft(
    session: Session, *, tenant_id: str, draft_id: int, text: str | None, actor: str
) -> OutboxMessage:
    """An agent's approval of a draft (as composed, or with their edits): queues it for sending.

    The compliance check runs again when it is sent; a blocking violation then stops it.
    """
    draft = session.get(Draft, draft_id)
    if draft is None or draft.tenant_id != tenant_id:
        raise NotFoundError(f"draft {draft_id} not found")
    if not draft.ticket_id:
        raise InvalidInputError(f"draft {draft_id} answers no ticket; there is no thread to send it to")
    earlier = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == tenant_id,
            OutboxMessage.draft_id == draft_id,
            OutboxMessage.status.in_([*OPEN_STATUSES, "sent"]),
        )
    )
    if earlier is not None:
        raise ConflictError(
            f"draft {draft_id} was already approved (outbox {earlier.id}, {earlier.status})",
            details={"outbox_id": earlier.id, "status": earlier.status},
        )
    return queue_mail(
        session,
        tenant_id=tenant_id,
        ticket_id=draft.ticket_id,
        body=text if text is not None else draft.reply,
        kind="reply",
        actor=actor,
        draft_id=draft_id,
    )


def queue_merge_notes(session: Session, *, group: MergeGroup, actor: str) -> list[OutboxMessage]:
    """Queues the merge's courtesy note to every other thread that came by mail."""
    queued = []
    for note in group.notes:
        ticket = get_ticket(session, tenant_id=group.tenant_id, ticket_id=note["ticket_id"])
        if _latest_inbound(session, ticket) is None:
            continue  # not a mail thread: the note is shown to the agent to post on its channel
        queued.append(
            queue_mail(
                session,
                tenant_id=group.tenant_id,
                ticket_id=note["ticket_id"],
                body=note["text"],
                kind="courtesy_note",
                actor=actor,
                merge_group_id=group.id,
            )
        )
    return queued


def merge_and_notify(
    session: Session, *, tenant_id: str, ticket_ids: list[str], actor: str, reason: str
) -> MergeGroup:
    """Merges tickets (replies.merge) and queues the courtesy notes to the other mail threads."""
    group = merge_service.merge_tickets(
        session, tenant_id=tenant_id, ticket_ids=ticket_ids, actor=actor, reason=reason
    )
    queue_merge_notes(session, group=group, actor=actor)
    return group


def undo_merge_and_cancel(
    session: Session, *, tenant_id: str, group_id: int, actor: str, reason: str
) -> MergeGroup:
    """Undoes a merge and cancels its courtesy notes not yet handed to the mail server."""
    group = merge_service.undo_merge(
        session, tenant_id=tenant_id, group_id=group_id, actor=actor, reason=reason
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.tenant_id == tenant_id,
            OutboxMessage.merge_group_id == group_id,
            OutboxMessage.status == "pending",
        )
        .values(status="cancelled", last_error=f"merge undone by {actor}")
    )
    return group


def to_read(row: OutboxMessage) -> OutboxRead:
    return OutboxRead(
        id=row.id,
        kind=row.kind,
        ticket_id=row.ticket_id,
        thread_id=row.thread_id,
        channel=row.channel,
        to_address=row.to_address,
        subject=row.subject,
        body=row.body,
        message_id=row.message_id,
        in_reply_to=row.in_reply_to,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        compliance=row.compliance,
        approved_by=row.approved_by,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def get_outbox(session: Session, *, tenant_id: str, outbox_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, outbox_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFoundError(f"outbox message {outbox_id} not found")
    return row


def list_outbox(
    session: Session,
    *,
    tenant_id: str,
    status: str | None = None,
    ticket_id: str | None = None,
    limit: int = 50,
) -> list[OutboxMessage]:
    """Outgoing mail, newest first."""
    query = select(OutboxMessage).where(OutboxMessage.tenant_id == tenant_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if ticket_id:
        query = query.where(OutboxMessage.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(max(1, min(limit, 200)))))


def cancel(session: Session, *, tenant_id: str, outbox_id: int, actor: str) -> OutboxMessage:
    """Withdraws a mail not yet handed to the server."""
    row = get_outbox(session, tenant_id=tenant_id, outbox_id=outbox_id)
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status.in_(["pending", "blocked"]))
        .values(status="cancelled", last_error=f"cancelled by {actor}")
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise ConflictError(
            f"outbox message {outbox_id} is {row.status}; only pending or blocked mail can be cancelled"
        )
    session.refresh(row)
    return row


# -- the sender --------------------------------------------------------------------------------


def build_message(row: OutboxMessage, mailbox: Mailbox, *, now: datetime) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = mailbox.address
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = row.message_id
    if row.in_reply_to:
        message["In-Reply-To"] = row.in_reply_to
    if row.references:
        message["References"] = " ".join(row.references)
    message["Content-Language"] = row.locale
    message.set_content(row.body)
    return message.as_bytes()


def _transition(session: Session, row_id: int, expected: str, **values: object) -> bool:
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == expected)
        .values(**values)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _backoff(settings: Settings, attempts: int) -> timedelta:
    return timedelta(
        seconds=min(settings.outbox_backoff_seconds * 2 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS)
    )


def send_one(
    factory: sessionmaker[Session], settings: Settings, *, outbox_id: int, report: SendReport
) -> None:
    """Checks, claims, sends and records one pending mail."""
    now = utcnow()
    with session_scope(factory) as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None or row.status != "pending":
            return
        result = check(row.body, channel=row.channel, locale=row.locale)
        blocking = [v for v in result.violations if v.blocking]
        row.compliance = result.model_dump(mode="json")
        if blocking:
            # The agent approved this exact text; a fixed version would be one they never saw. Stop it.
            rules = ", ".join(sorted({v.rule for v in blocking}))
            _transition(
                session,
                outbox_id,
                "pending",
                status="blocked",
                last_error=f"{row.channel} compliance check at send time: blocking {rules}; nothing was sent",
            )
            report.blocked += 1
            return
        # Recorded before the server sees anything: a crash from here on leaves 'sending', never a resend.
        if not _transition(
            session, outbox_id, "pending", status="sending", attempts=row.attempts + 1, sending_since=now
        ):
            return
        attempts = row.attempts + 1
        mailbox = session.get_one(Mailbox, row.mailbox_id)
        session.expunge(mailbox)
        envelope = transport.Envelope(
            sender=mailbox.address,
            recipients=list(dict.fromkeys([row.to_address, mailbox.address])),
            data=build_message(row, mailbox, now=now),
        )
    try:
        transport.send(mailbox, password_of(settings, mailbox), envelope)
    except transport.SmtpOutcomeUnknown as exc:
        with session_scope(factory) as session:
            _transition(
                session,
                outbox_id,
                "sending",
                last_error=f"connection lost during the send ({exc}); checking later",
            )
        report.unknown += 1
        return
    except (transport.MailboxError, transport.SmtpRejected, DeflectError) as exc:
        permanent = isinstance(exc, transport.SmtpRejected) and exc.permanent
        message = getattr(exc, "message", None) or str(exc)
        with session_scope(factory) as session:
            if permanent or attempts >= settings.outbox_max_attempts:
                _transition(session, outbox_id, "sending", status="failed", last_error=message[:2000])
                report.failed += 1
            else:
                _transition(
                    session,
                    outbox_id,
                    "sending",
                    status="pending",
                    next_attempt_at=now + _backoff(settings, attempts),
                    last_error=message[:2000],
                )
                report.retried += 1
        return
    with session_scope(factory) as session:
        _transition(session, outbox_id, "sending", status="sent", sent_at=utcnow(), last_error=None)
    report.sent += 1


def reconcile(factory: sessionmaker[Session], settings: Settings, *, report: SendReport) -> None:
    """Settles sends interrupted longer ago than DEFLECT_OUTBOX_RECONCILE_SECONDS by the mailbox copy."""
    cutoff = utcnow() - timedelta(seconds=settings.outbox_reconcile_seconds)
    with session_scope(factory) as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "sending", OutboxMessage.sending_since <= cutoff)
                .order_by(OutboxMessage.mailbox_id, OutboxMessage.id)
            )
        )
        by_mailbox: dict[int, list[tuple[int, str]]] = {}
        for row in rows:
            by_mailbox.setdefault(row.mailbox_id, []).append((row.id, row.message_id))
        mailboxes = {m.id: m for m in session.scalars(select(Mailbox).where(Mailbox.id.in_(by_mailbox)))}
        for mailbox in mailboxes.values():
            session.expunge(mailbox)
    for mailbox_id, pending in by_mailbox.items():
        mailbox = mailboxes[mailbox_id]
        folders = [mailbox.folder, *([mailbox.sent_folder] if mailbox.sent_folder else [])]
        try:
            with transport.imap_session(mailbox, password_of(settings, mailbox)) as client:
                found = {outbox_id: transport.has_message(client, folders, mid) for outbox_id, mid in pending}
        except (transport.MailboxError, DeflectError, OSError) as exc:
            log.warning("mailbox %s: cannot check interrupted sends yet: %s", mailbox.name, exc)
            continue
        with session_scope(factory) as session:
            for outbox_id, was_sent in found.items():
                if was_sent:
                    if _transition(
                        session,
                        outbox_id,
                        "sending",
                        status="sent",
                        sent_at=utcnow(),
                        last_error="send was interrupted; the mailbox copy shows the server took it",
                    ):
                        report.confirmed += 1
                elif _transition(
                    session,
                    outbox_id,
                    "sending",
                    status="pending",
                    next_attempt_at=utcnow(),
                    last_error="send interrupted before the server took it; sending again, same Message-ID",
                ):
                    report.requeued += 1


def deliver_due(factory: sessionmaker[Session], settings: Settings, *, limit: int = 100) -> SendReport:
    """One pass of the sender: settle interrupted sends, then send what is due."""
    report = SendReport()
    reconcile(factory, settings, report=report)
    with session_scope(factory) as session:
        due: Sequence[int] = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
        )
    for outbox_id in due:
        send_one(factory, settings, outbox_id=outbox_id, report=report)
    return report
