"""The mailbox poller: new mail -> tickets through the existing ingest, exactly once per Message-ID.

Each batch of messages is parsed, threaded, ingested (identity resolution, duplicate check, change log
for the index) and recorded in one transaction, together with the mailbox's last seen UID. A process
killed mid-batch therefore leaves either the whole batch or none of it, and the next poll starts after
the last committed UID; the Message-ID key catches anything seen again (a UIDVALIDITY reset, a copy in
another folder or mailbox). Mail that cannot become a ticket is quarantined with the reason in the same
transaction, so it is never dropped and never stops the poller.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from imapclient import IMAPClient
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from channels import transport
from channels.models import InboundMail, Mailbox, OutboxMessage, QuarantinedMail
from channels.parsing import MalformedMail, ParsedMail, header_block, parse_mail
from channels.schemas import PollReport
from channels.service import list_mailboxes, password_of
from core.clock import utcnow
from core.db import session_scope
from core.errors import DeflectError
from core.jsonl import validation_reason
from core.schemas import MARKETPLACES
from core.settings import Settings
from history.schemas import ContactIn, TicketCreate
from history.service import ingest_tickets
from indexing.engine import SearchEngine

log = logging.getLogger(__name__)
TICKETS = "tickets"
# A Date header this far ahead of the clock is wrong; the ticket takes the time it was received.
MAX_CLOCK_SKEW = timedelta(days=1)


def ticket_id_for(message_id: str) -> str:
    """The ticket's external id: stable per Message-ID, so a message seen again maps to the same ticket."""
    return "mail-" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:24]


def thread_id_for(root_message_id: str) -> str:
    return "mail-thread-" + hashlib.sha256(root_message_id.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class Fetched:
    uid: int
    size: int
    raw: bytes | None  # None: over DEFLECT_MAIL_MAX_BYTES, left on the server


@dataclass
class _Counts:
    created: int = 0
    seen_before: int = 0
    own_copies: int = 0
    quarantined: int = 0


def _quarantine(
    session: Session,
    settings: Settings,
    *,
    mailbox: Mailbox,
    uidvalidity: int,
    fetched: Fetched,
    reason: str,
    message_id: str | None = None,
) -> None:
    exists = session.scalar(
        select(QuarantinedMail.id).where(
            QuarantinedMail.tenant_id == mailbox.tenant_id,
            QuarantinedMail.mailbox_id == mailbox.id,
            QuarantinedMail.uidvalidity == uidvalidity,
            QuarantinedMail.uid == fetched.uid,
        )
    )
    if exists is not None:
        return
    raw = fetched.raw
    session.add(
        QuarantinedMail(
            tenant_id=mailbox.tenant_id,
            mailbox_id=mailbox.id,
            uidvalidity=uidvalidity,
            uid=fetched.uid,
            message_id=message_id,
            reason=reason[:2000],
            headers=header_block(raw) if raw else "",
            size=fetched.size,
            raw=raw if raw is not None and len(raw) <= settings.mail_max_bytes else None,
        )
    )
    log.warning("mailbox %s uid %s quarantined: %s", mailbox.name, fetched.uid, reason[:200])


def _known_thread(session: Session, tenant_id: str, message_id: str) -> str | None:
    thread = session.scalar(
        select(InboundMail.thread_id).where(
            InboundMail.tenant_id == tenant_id, InboundMail.message_id == message_id
        )
    )
    if thread is None:
        thread = session.scalar(
            select(OutboxMessage.thread_id).where(
                OutboxMessage.tenant_id == tenant_id, OutboxMessage.message_id == message_id
            )
        )
    return thread


def resolve_thread(session: Session, tenant_id: str, mail: ParsedMail, batch_threads: dict[str, str]) -> str:
    """The thread a message belongs to: the thread of any message it answers (In-Reply-To, then
    References, nearest first); for marketplace relay mail without those headers, the earlier thread
    with the same relay address and order; else a new thread rooted at its first reference or itself."""
    for ref in mail.thread_refs:
        thread = batch_threads.get(ref) or _known_thread(session, tenant_id, ref)
        if thread:
            return thread
    if mail.channel in MARKETPLACES and mail.order_ids and not mail.thread_refs:
        thread = session.scalar(
            select(InboundMail.thread_id)
            .where(
                InboundMail.tenant_id == tenant_id,
                InboundMail.reply_to == mail.reply_to,
                InboundMail.order_id == mail.order_ids[0],
            )
            .order_by(InboundMail.id.desc())
            .limit(1)
        )
        if thread:
            return thread
        key = f"relay:{mail.reply_to}|{mail.order_ids[0]}"
        if key in batch_threads:
            return batch_threads[key]
    root = mail.references[0] if mail.references else (mail.in_reply_to or mail.message_id)
    return thread_id_for(root)


def _ticket(mail: ParsedMail, ticket_id: str, thread_id: str) -> TicketCreate:
    now = utcnow()
    created_at = mail.sent_at if mail.sent_at is not None and mail.sent_at <= now + MAX_CLOCK_SKEW else now
    return TicketCreate(
        id=ticket_id,
        channel=mail.channel,  # type: ignore[arg-type]
        thread_id=thread_id,
        customer=ContactIn(email=mail.reply_to[:320], name=mail.sender_name[:300] or None),
        order_id=mail.order_ids[0] if mail.order_ids else None,
        subject=mail.subject,
        body=mail.text,
        created_at=created_at,
        locale=mail.locale,
    )


def ingest_batch(
    session: Session,
    engine: SearchEngine,
    settings: Settings,
    *,
    mailbox: Mailbox,
    uidvalidity: int,
    batch: list[Fetched],
) -> _Counts:
    """Turns one batch into tickets and quarantine entries and moves the mailbox past it (not committed)."""
    counts = _Counts()
    tenant_id = mailbox.tenant_id
    parsed: list[tuple[Fetched, ParsedMail]] = []
    for fetched in batch:
        if fetched.raw is None:
            _quarantine(
                session,
                settings,
                mailbox=mailbox,
                uidvalidity=uidvalidity,
                fetched=fetched,
                reason=f"message of {fetched.size} bytes is over DEFLECT_MAIL_MAX_BYTES "
                f"({settings.mail_max_bytes}); it stays on the server",
            )
            counts.quarantined += 1
            continue
        try:
            parsed.append((fetched, parse_mail(fetched.raw)))
        except MalformedMail as exc:
            _quarantine(
                session,
                settings,
                mailbox=mailbox,
                uidvalidity=uidvalidity,
                fetched=fetched,
                reason=exc.reason,
                message_id=exc.message_id,
            )
            counts.quarantined += 1

    ids = [mail.message_id for _, mail in parsed]
    seen = set(
        session.scalars(
            select(InboundMail.message_id).where(
                InboundMail.tenant_id == tenant_id, InboundMail.message_id.in_(ids)
            )
        )
    )
    own = set(
        session.scalars(
            select(OutboxMessage.message_id).where(
                OutboxMessage.tenant_id == tenant_id, OutboxMessage.message_id.in_(ids)
            )
        )
    )
    if own:
        # Our own reply, copied back into the mailbox: proof the SMTP server took it.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id.in_(own), OutboxMessage.status == "sending")
            .values(status="sent", sent_at=utcnow(), last_error=None)
        )
    batch_threads: dict[str, str] = {}
    tickets: list[TicketCreate] = []
    records: list[InboundMail] = []
    for fetched, mail in parsed:
        if mail.message_id in own:
            counts.own_copies += 1
            continue
        if mail.message_id in seen:
            counts.seen_before += 1
            continue
        thread_id = resolve_thread(session, tenant_id, mail, batch_threads)
        ticket_id = ticket_id_for(mail.message_id)
        try:
            ticket_in = _ticket(mail, ticket_id, thread_id)
        except ValidationError as exc:
            _quarantine(
                session,
                settings,
                mailbox=mailbox,
                uidvalidity=uidvalidity,
                fetched=fetched,
                reason=f"not a valid ticket: {validation_reason(exc)}",
                message_id=mail.message_id,
            )
            counts.quarantined += 1
            continue
        seen.add(mail.message_id)
        batch_threads[mail.message_id] = thread_id
        if mail.channel in MARKETPLACES and mail.order_ids:
            batch_threads.setdefault(f"relay:{mail.reply_to}|{mail.order_ids[0]}", thread_id)
        tickets.append(ticket_in)
        records.append(
            InboundMail(
                tenant_id=tenant_id,
                mailbox_id=mailbox.id,
                uid=fetched.uid,
                message_id=mail.message_id,
                ticket_id=ticket_id,
                thread_id=thread_id,
                channel=mail.channel,
                reply_to=mail.reply_to,
                subject=mail.subject,
                order_id=mail.order_ids[0] if mail.order_ids else None,
                order_ids=mail.order_ids,
                references=mail.references,
                attachments=[a.as_dict() for a in mail.attachments],
                forwarded=mail.forwarded,
                sent_at=mail.sent_at,
            )
        )
    if tickets:
        ingest_tickets(session, engine, tenant_id=tenant_id, tickets=tickets)
        session.add_all(records)
        counts.created += len(tickets)
    mailbox.last_uid = max([mailbox.last_uid, *(f.uid for f in batch)])
    session.flush()
    return counts


def _add(report: PollReport, counts: _Counts) -> None:
    report.created += counts.created
    report.seen_before += counts.seen_before
    report.own_copies += counts.own_copies
    report.quarantined += counts.quarantined


def _ingest_chunk(
    factory: sessionmaker[Session],
    engine: SearchEngine,
    settings: Settings,
    *,
    mailbox_id: int,
    uidvalidity: int,
    chunk: list[Fetched],
    report: PollReport,
) -> None:
    try:
        with session_scope(factory) as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            _add(
                report,
                ingest_batch(
                    session, engine, settings, mailbox=mailbox, uidvalidity=uidvalidity, batch=chunk
                ),
            )
        return
    except Exception:  # noqa: BLE001 - one bad message must not hold back the others: retry one by one
        log.exception("batch of %d messages failed; ingesting them one at a time", len(chunk))
    for fetched in chunk:
        try:
            with session_scope(factory) as session:
                mailbox = session.get_one(Mailbox, mailbox_id)
                _add(
                    report,
                    ingest_batch(
                        session, engine, settings, mailbox=mailbox, uidvalidity=uidvalidity, batch=[fetched]
                    ),
                )
        except Exception as exc:  # noqa: BLE001 - never drop a message and never stop: quarantine it
            log.exception("uid %s could not be ingested; quarantining it", fetched.uid)
            with session_scope(factory) as session:
                mailbox = session.get_one(Mailbox, mailbox_id)
                _quarantine(
                    session,
                    settings,
                    mailbox=mailbox,
                    uidvalidity=uidvalidity,
                    fetched=fetched,
                    reason=f"ingest failed: {type(exc).__name__}: {str(exc)[:500]}",
                )
                mailbox.last_uid = max(mailbox.last_uid, fetched.uid)
            report.quarantined += 1


def poll_mailbox(
    factory: sessionmaker[Session],
    engine: SearchEngine,
    settings: Settings,
    *,
    mailbox_id: int,
    client: IMAPClient | None = None,
) -> PollReport:
    """Takes in every message above the mailbox's last UID; MailboxError when the server cannot be used."""
    started = time.perf_counter()
    with session_scope(factory) as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        name, folder, tenant_id = mailbox.name, mailbox.folder, mailbox.tenant_id
        stored_validity, last_uid = mailbox.uidvalidity, mailbox.last_uid
        password = password_of(settings, mailbox) if client is None else ""
        session.expunge(mailbox)
    report = PollReport(mailbox=name)
    own_client = client is None
    try:
        if client is None:
            client = transport.open_imap(mailbox, password)
        uidvalidity = transport.select(client, folder)
        if stored_validity != uidvalidity:
            if stored_validity is not None:
                log.warning(
                    "mailbox %s: UIDVALIDITY changed; reading %s again (seen mail is skipped)", name, folder
                )
            last_uid = 0
            with session_scope(factory) as session:
                row = session.get_one(Mailbox, mailbox_id)
                row.uidvalidity, row.last_uid = uidvalidity, 0
        uids = transport.new_uids(client, last_uid)
        size_of = transport.sizes(client, uids)
        for start in range(0, len(uids), settings.mail_batch_size):
            chunk_uids = uids[start : start + settings.mail_batch_size]
            small = [u for u in chunk_uids if size_of.get(u, 0) <= settings.mail_max_bytes]
            raws = transport.fetch_raw(client, small)
            chunk = [Fetched(uid=u, size=size_of.get(u, 0), raw=raws.get(u)) for u in chunk_uids]
            # A message expunged between SEARCH and FETCH has nothing left to keep.
            chunk = [f for f in chunk if f.raw is not None or f.size > settings.mail_max_bytes]
            report.fetched += len(chunk)
            if chunk:
                _ingest_chunk(
                    factory,
                    engine,
                    settings,
                    mailbox_id=mailbox_id,
                    uidvalidity=uidvalidity,
                    chunk=chunk,
                    report=report,
                )
    except transport.MailboxError as exc:
        _record_poll(factory, mailbox_id, error=str(exc))
        raise
    finally:
        if own_client and client is not None:
            transport.close_imap(client)
    _record_poll(factory, mailbox_id, error=None)
    if report.created:
        engine.catch_up(tenant_id, TICKETS)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _record_poll(factory: sessionmaker[Session], mailbox_id: int, *, error: str | None) -> None:
    with session_scope(factory) as session:
        row = session.get(Mailbox, mailbox_id)
        if row is not None:
            row.last_polled_at = utcnow()
            row.last_error = error


# -- the long-running watcher ----------------------------------------------------------------


def watch_mailbox(
    factory: sessionmaker[Session],
    engine: SearchEngine,
    settings: Settings,
    *,
    mailbox_id: int,
    stop: threading.Event,
) -> None:
    """Polls one mailbox until `stop`: in IMAP IDLE between polls where the server offers it, else every
    DEFLECT_MAIL_POLL_SECONDS; reconnects with backoff after errors."""
    backoff = 1.0
    while not stop.is_set():
        with session_scope(factory) as session:
            mailbox = session.get(Mailbox, mailbox_id)
            if mailbox is None or not mailbox.enabled:
                return
            try:
                password = password_of(settings, mailbox)
            except DeflectError as exc:
                mailbox.last_error = exc.message
                password = None
            session.expunge(mailbox)
        if password is None:
            stop.wait(settings.mail_poll_seconds)
            continue
        try:
            client = transport.open_imap(mailbox, password)
        except transport.MailboxError as exc:
            _record_poll(factory, mailbox_id, error=str(exc))
            log.warning("mailbox %s: %s; retrying in %.0f s", mailbox.name, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 300.0)
            continue
        try:
            idle = transport.supports_idle(client)
            while not stop.is_set():
                report = poll_mailbox(factory, engine, settings, mailbox_id=mailbox_id, client=client)
                if report.fetched:
                    log.info("mailbox %s: %s", mailbox.name, report.model_dump())
                backoff = 1.0
                if idle:
                    _idle_until_change(client, settings.mail_idle_seconds, stop)
                else:
                    stop.wait(settings.mail_poll_seconds)
        except (transport.MailboxError, OSError) as exc:
            _record_poll(factory, mailbox_id, error=str(exc))
            log.warning("mailbox %s: %s; reconnecting in %.0f s", mailbox.name, exc, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 300.0)
        except Exception:  # noqa: BLE001 - the watcher outlives any one failure; it is logged and retried
            log.exception("mailbox %s: poll failed; retrying in %.0f s", mailbox.name, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 300.0)
        finally:
            transport.close_imap(client)


def _idle_until_change(client: IMAPClient, seconds: float, stop: threading.Event) -> None:
    # Short checks inside one IDLE command, so a stop request is seen within a second.
    deadline = time.monotonic() + seconds
    client.idle()
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            if client.idle_check(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
                return
    finally:
        client.idle_done()


def run_watchers(
    factory: sessionmaker[Session],
    engine: SearchEngine,
    settings: Settings,
    *,
    stop: threading.Event,
    tenant_id: str | None = None,
) -> None:
    """One watcher thread per enabled mailbox, started as mailboxes are added, until `stop`."""
    threads: dict[int, threading.Thread] = {}
    while not stop.is_set():
        with session_scope(factory) as session:
            ids = [m.id for m in list_mailboxes(session, tenant_id=tenant_id, enabled_only=True)]
        for mailbox_id in ids:
            if mailbox_id in threads and threads[mailbox_id].is_alive():
                continue
            thread = threading.Thread(
                target=watch_mailbox,
                args=(factory, engine, settings),
                kwargs={"mailbox_id": mailbox_id, "stop": stop},
                name=f"mailbox-{mailbox_id}",
                daemon=True,
            )
            thread.start()
            threads[mailbox_id] = thread
        stop.wait(settings.mail_poll_seconds)
    for thread in threads.values():
        thread.join(timeout=10)


def poll_all(
    factory: sessionmaker[Session], engine: SearchEngine, settings: Settings, *, tenant_id: str | None = None
) -> list[PollReport]:
    """One poll of every enabled mailbox; a mailbox that fails is reported in its last_error."""
    with session_scope(factory) as session:
        ids = [m.id for m in list_mailboxes(session, tenant_id=tenant_id, enabled_only=True)]
    reports = []
    for mailbox_id in ids:
        try:
            reports.append(poll_mailbox(factory, engine, settings, mailbox_id=mailbox_id))
        except (transport.MailboxError, DeflectError) as exc:
            log.warning("mailbox %s: %s", mailbox_id, exc)
    return reports
