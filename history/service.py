"""Customer-history services: orders and tickets import/ingest, lookups, the unified timeline.

Callers own the transaction; an import file is parsed completely before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.orm import Session, selectinload

from core.changes import record_changes
from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError
from core.jsonl import read_jsonl
from core.schemas import MAX_ROW_ID, ImportReport, to_utc_in_range
from history.duplicates import PoolEntry, duplicate_threshold, find_duplicates
from history.identity import TICKETS, canonical_order_id, find_order_ids, order_id_variants, resolve_contact
from history.lookup import get_ticket as get_ticket
from history.lookup import ticket_order_ids as ticket_order_ids
from history.models import Customer, Identity, MergeAudit, Order, OrderItem, Refund, Thread, Ticket
from history.schemas import (
    CustomerHistory,
    IdentityRead,
    IngestResult,
    OrderCreate,
    TicketCreate,
    TicketPage,
    TicketRead,
    TimelineEvent,
)
from history.shipments import imported_shipments
from history.tagging import auto_tag

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

Parsed = TypeVar("Parsed", bound=BaseModel)
MAX_PAGE = 200


def _hash(model: BaseModel) -> str:
    payload = json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# -- parsing ------------------------------------------------------------------------------


def parse_jsonl(path: Path, model: type[Parsed], key: Callable[[Parsed], str]) -> list[Parsed]:
    """Every line or none: raises ImportFileError listing each bad line (file, line, reason)."""
    return read_jsonl(path, model.model_validate, key=key)


def parse_orders(path: Path) -> list[OrderCreate]:
    return parse_jsonl(path, OrderCreate, lambda o: canonical_order_id(o.order_id))


def parse_tickets(path: Path) -> list[TicketCreate]:
    return parse_jsonl(path, TicketCreate, lambda t: t.id)


# -- orders -------------------------------------------------------------------------------


def get_order(session: Session, *, tenant_id: str, order_id: str) -> Order | None:
    """One order by its marketplace id (Shopify numbers with or without '#'), or None."""
    return session.scalar(
        select(Order)
        .where(Order.tenant_id == tenant_id, Order.order_id.in_(order_id_variants(order_id)))
        .options(selectinload(Order.items), selectinload(Order.shipments), selectinload(Order.refunds))
    )


def orders_for_customer(session: Session, *, tenant_id: str, customer_id: int) -> list[Order]:
    """Every order of a customer, newest first."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.tenant_id == tenant_id, Order.customer_id == customer_id)
            .options(selectinload(Order.items), selectinload(Order.shipments), selectinload(Order.refunds))
            .order_by(Order.placed_at.desc().nulls_last(), Order.id.desc())
        )
    )


def upsert_order(session: Session, *, tenant_id: str, order_in: OrderCreate) -> tuple[Order, str]:
    """Creates or replaces an order by id; returns it and 'created', 'updated' or 'unchanged'."""
    content_hash = _hash(order_in)
    order_id = canonical_order_id(order_in.order_id)
    order = get_order(session, tenant_id=tenant_id, order_id=order_id)
    if order is not None and order.content_hash == content_hash:
        return order, "unchanged"
    outcome = "updated"
    if order is None:
        resolution = resolve_contact(
            session,
            tenant_id=tenant_id,
            channel=order_in.channel,
            contact=order_in.customer,
            order_ids=[],
            source=f"order {order_id}",
        )
        order = Order(
            tenant_id=tenant_id,
            order_id=order_id,
            customer_id=resolution.customer.id,
            identity_id=resolution.identity.id if resolution.identity else None,
        )
        session.add(order)
        outcome = "created"
    order.channel = order_in.channel
    order.placed_at = order_in.placed_at
    order.status = order_in.status
    order.fulfillment = order_in.fulfillment
    order.currency = order_in.currency.upper()
    order.contact = order_in.customer.model_dump(exclude_none=True)
    order.content_hash = content_hash
    order.items = [
        OrderItem(tenant_id=tenant_id, sku=i.sku, title=i.title, qty=i.qty, price=i.price)
        for i in order_in.items
    ]
    order.shipments = imported_shipments(
        session, tenant_id=tenant_id, order=order, shipment_in=order_in.shipment
    )
    refund = order_in.refund
    order.refunds = (
        []
        if refund is None
        else [
            Refund(
                tenant_id=tenant_id,
                refund_id=refund.refund_id,
                status=refund.status,
                amount=refund.amount,
                **({"created_at": refund.processed_at} if refund.processed_at else {}),
            )
        ]
    )
    session.flush()
    return order, outcome


def import_orders(
    session: Session, *, tenant_id: str, orders: Sequence[OrderCreate], file: str
) -> ImportReport:
    """Upserts parsed orders; idempotent: re-importing the same content changes nothing."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for order_in in orders:
        _, outcome = upsert_order(session, tenant_id=tenant_id, order_in=order_in)
        counts[outcome] += 1
    return ImportReport(file=file, **counts)


# -- tickets ------------------------------------------------------------------------------


def _encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.created_at.astimezone(UTC).isoformat()}|{ticket.id}"
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        at, _, pk = raw.partition("|")
        ticket_pk = int(pk)
        if not 1 <= ticket_pk <= MAX_ROW_ID:
            raise ValueError("row id out of range")
        return to_utc_in_range(datetime.fromisoformat(at)), ticket_pk
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "cursor is not one this endpoint returned", details={"cursor": cursor}
        ) from exc


MAX_SEARCH_WORDS = 8


def _like_literal(text: str) -> str:
    """`text` inside a LIKE pattern with escape '\\': its '%' and '_' match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_tickets(
    session: Session,
    *,
    tenant_id: str,
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    tag: str | None = None,
    customer_id: int | None = None,
    text: str | None = None,
) -> TicketPage:
    """Tickets newest first, optionally of one status, channel, tag or customer, or holding every word of
    `text` (in the subject, body, ticket id or order id, case-insensitively), one keyset page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
    words = (text or "").split()
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidInputError(f"search at most {MAX_SEARCH_WORDS} words at a time")
    query = select(Ticket).where(Ticket.tenant_id == tenant_id).options(selectinload(Ticket.thread))
    if status:
        query = query.where(Ticket.status == status)
    if channel:
        query = query.where(Ticket.channel == channel)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if tag:
        # Tags are a JSON list; its text holds each tag in quotes on SQLite and PostgreSQL alike.
        # '_' is a LIKE wildcard and tags contain it, hence the escape.
        pattern = '%"' + _like_literal(tag) + '"%'
        query = query.where(cast(Ticket.tags, Text).like(pattern, escape="\\"))
    for word in words:
        # A substring match, not the semantic search: an agent looking for "1Z999" or a customer's
        # phrase wants exactly that text. '%' and '_' in the word are literal.
        pattern = "%" + _like_literal(word) + "%"
        query = query.where(
            or_(
                Ticket.subject.ilike(pattern, escape="\\"),
                Ticket.body.ilike(pattern, escape="\\"),
                Ticket.external_id.ilike(pattern, escape="\\"),
                Ticket.order_id.ilike(pattern, escape="\\"),
            )
        )
    if cursor:
        # Keyset, not offset: tickets arriving while an agent pages do not shift or repeat rows.
        at, pk = _decode_cursor(cursor)
        query = query.where(or_(Ticket.created_at < at, and_(Ticket.created_at == at, Ticket.id < pk)))
    rows = list(session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return TicketPage(
        items=[to_read(t) for t in rows], limit=limit, next_cursor=_encode_cursor(rows[-1]) if more else None
    )


def to_read(ticket: Ticket) -> TicketRead:
    return TicketRead(
        id=ticket.external_id,
        channel=ticket.channel,
        thread_id=ticket.thread.external_id if ticket.thread else None,
        customer_id=ticket.customer_id,
        order_id=ticket.order_id,
        subject=ticket.subject,
        body=ticket.body,
        locale=ticket.locale,
        tags=list(ticket.tags),
        tag_source=ticket.tag_source,
        status=ticket.status,
        created_at=ticket.created_at,
        merge_group_id=ticket.merge_group_id,
    )


def _thread(session: Session, *, tenant_id: str, channel: str, external_id: str | None) -> Thread | None:
    if not external_id:
        return None
    thread = session.scalar(
        select(Thread).where(
            Thread.tenant_id == tenant_id, Thread.channel == channel, Thread.external_id == external_id
        )
    )
    if thread is None:
        thread = Thread(tenant_id=tenant_id, channel=channel, external_id=external_id)
        session.add(thread)
        session.flush()
    return thread


def _text(ticket_in: TicketCreate) -> str:
    return f"{ticket_in.subject}\n{ticket_in.body}" if ticket_in.subject else ticket_in.body


def ingest_tickets(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    tickets: Sequence[TicketCreate],
    check_duplicates: bool = True,
    window_days: int = 14,
    threshold: float | None = None,
    after_write: Callable[[], None] | None = None,
) -> list[IngestResult]:
    """Creates or updates tickets by external id, ties each to a customer and checks it for duplicates.

    Idempotent: a ticket whose content did not change is reported 'unchanged' and nothing is written.
    `after_write` is called once every row is written and before the duplicate check, which only reads
    but takes long (a 1000-ticket batch compares each ticket with the others): a route commits there, so
    SQLite's one write lock is not held across it while every other writer waits for it.
    """

    # Two versions of one ticket in a batch have no defined order to apply them in.
    counts: dict[str, int] = {}
    for ticket_in in tickets:
        counts[ticket_in.id] = counts.get(ticket_in.id, 0) + 1
    repeated = sorted(ticket_id for ticket_id, n in counts.items() if n > 1)
    if repeated:
        raise InvalidInputError(f"ticket ids repeated in one batch: {', '.join(repeated[:10])}")

    existing = {
        t.external_id: t
        for t in session.scalars(
            select(Ticket).where(
                Ticket.tenant_id == tenant_id, Ticket.external_id.in_([t.id for t in tickets])
            )
        )
    }
    hashes = [_hash(t) for t in tickets]
    to_encode = [
        i
        for i, t in enumerate(tickets)
        if t.id not in existing
        or existing[t.id].content_hash != hashes[i]
        or existing[t.id].embedding_model != engine.encoder.name
    ]
    vectors: dict[int, np.ndarray] = {}
    if to_encode:
        encoded = engine.encoder.encode([_text(tickets[i]) for i in to_encode], kind="passage")
        vectors = {i: encoded[row] for row, i in enumerate(to_encode)}
    # No index catch-up here: each one invalidates the engine's keyword index and filter masks, which
    # at scale costs more than the check itself. The server syncs every few seconds, and the
    # same-customer candidates come straight from the database, so a re-contact seconds old is still seen.
    if threshold is None:
        threshold = duplicate_threshold(session, tenant_id=tenant_id, encoder=engine.encoder.name)
    # Index searches, before the first write takes SQLite's write lock.
    auto_tags = {
        i: auto_tag(engine, tenant_id=tenant_id, vector=v) for i, v in vectors.items() if not tickets[i].tags
    }

    rows: list[tuple[Ticket, str]] = []
    for index, ticket_in in enumerate(tickets):
        ticket = existing.get(ticket_in.id)
        if ticket is not None and ticket.content_hash == hashes[index]:
            if index in vectors:
                ticket.embedding = vectors[index].astype(np.float32).tobytes()
                ticket.embedding_model = engine.encoder.name
            rows.append((ticket, "unchanged"))
            continue
        outcome = "updated"
        thread = _thread(
            session, tenant_id=tenant_id, channel=ticket_in.channel, external_id=ticket_in.thread_id
        )
        if ticket is None:
            order_ids = [canonical_order_id(ticket_in.order_id)] if ticket_in.order_id else []
            order_ids += [o for o in find_order_ids(_text(ticket_in)) if o not in order_ids]
            resolution = resolve_contact(
                session,
                tenant_id=tenant_id,
                channel=ticket_in.channel,
                contact=ticket_in.customer,
                order_ids=order_ids,
                source=f"ticket {ticket_in.id} ({ticket_in.channel})",
            )
            ticket = Ticket(
                tenant_id=tenant_id,
                external_id=ticket_in.id,
                customer_id=resolution.customer.id,
                identity_id=resolution.identity.id if resolution.identity else None,
                link_kind=resolution.kind,
            )
            outcome = "created"
        ticket.channel = ticket_in.channel
        ticket.thread = thread
        ticket.order_id = canonical_order_id(ticket_in.order_id) if ticket_in.order_id else None
        ticket.subject = ticket_in.subject
        ticket.body = ticket_in.body
        ticket.locale = ticket_in.locale
        ticket.status = ticket_in.status if ticket.merge_group_id is None else ticket.status
        ticket.resolution = ticket_in.resolution
        ticket.resolved_by_article = ticket_in.resolved_by_article
        ticket.created_at = ticket_in.created_at or ticket.created_at or utcnow()
        ticket.handling_seconds = ticket_in.handling_seconds
        ticket.contact = ticket_in.customer.model_dump(exclude_none=True)
        ticket.content_hash = hashes[index]
        ticket.embedding = vectors[index].astype(np.float32).tobytes()
        ticket.embedding_model = engine.encoder.name
        if ticket_in.tags:
            ticket.tags, ticket.tag_source = list(ticket_in.tags), "import"
        else:
            ticket.tags, ticket.tag_source = [auto_tags[index]], "auto"
        # Added only now: an autoflush of a half-filled row would violate NOT NULL columns.
        session.add(ticket)
        rows.append((ticket, outcome))
    session.flush()
    record_changes(
        session,
        tenant_id=tenant_id,
        collection=TICKETS,
        item_ids=[t.id for t, outcome in rows if outcome != "unchanged"],
        op="upsert",
    )
    if after_write is not None:
        after_write()

    results: list[IngestResult] = []
    pool: list[PoolEntry] = []
    for index, (ticket, outcome) in enumerate(rows):
        vector = vectors.get(index)
        if vector is None and ticket.embedding is not None:
            vector = np.frombuffer(ticket.embedding, dtype=np.float32)
        duplicates = []
        if check_duplicates:
            # Earlier tickets of this batch are not committed yet, so the index cannot see them.
            duplicates = find_duplicates(
                session,
                engine,
                tenant_id=tenant_id,
                ticket=ticket,
                vector=vector,
                window_days=window_days,
                threshold=threshold,
                pool=pool,
            )
        if vector is not None:
            pool.append(PoolEntry(ticket=ticket, vector=vector))
        results.append(
            IngestResult(
                ticket=to_read(ticket),
                outcome=outcome,  # type: ignore[arg-type]
                link=ticket.link_kind,
                duplicates=duplicates,
            )
        )
    return results


def import_tickets(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    tickets: Sequence[TicketCreate],
    file: str,
) -> ImportReport:
    """Imports past tickets without the duplicate check (run it on demand per ticket)."""
    results = ingest_tickets(session, engine, tenant_id=tenant_id, tickets=tickets, check_duplicates=False)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for result in results:
        counts[result.outcome] += 1
    return ImportReport(file=file, **counts)


# -- customers and the timeline ---------------------------------------------------------


def get_customer(session: Session, *, tenant_id: str, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:
        raise NotFoundError(f"customer {customer_id} not found")
    return customer


def identity_read(identity: Identity) -> IdentityRead:
    return IdentityRead(
        id=identity.id,
        kind=identity.kind,
        value=identity.value,
        reason=identity.reason,
        evidence=identity.evidence,
        linked_by=identity.linked_by,
        created_at=identity.created_at,
        unlinked_at=identity.unlinked_at,
    )


def customer_timeline(session: Session, *, tenant_id: str, customer_id: int) -> CustomerHistory:
    """Orders, shipments, refunds, messages and merges of one customer, oldest first, with identities."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    events: list[TimelineEvent] = []
    for order in orders_for_customer(session, tenant_id=tenant_id, customer_id=customer_id):
        items = ", ".join(f"{i.qty}× {i.title or i.sku}" for i in order.items)
        events.append(
            TimelineEvent(
                at=order.placed_at or order.created_at,
                kind="order",
                channel=order.channel,
                ref=order.order_id,
                summary=f"order {order.order_id} ({order.status}): {items}",
                data={
                    "status": order.status,
                    "currency": order.currency,
                    "total": round(sum(i.qty * i.price for i in order.items), 2),
                },
            )
        )
        for shipment in order.shipments:
            events.append(
                TimelineEvent(
                    at=shipment.status_at or order.placed_at or order.created_at,
                    kind="shipment",
                    channel=order.channel,
                    ref=order.order_id,
                    summary=f"{shipment.carrier} {shipment.tracking_number or ''}: {shipment.status}".strip(),
                    data={
                        "carrier": shipment.carrier,
                        "tracking_number": shipment.tracking_number,
                        "status": shipment.status,
                        "eta": shipment.eta.isoformat() if shipment.eta else None,
                        "location": shipment.location,
                    },
                )
            )
        for refund in order.refunds:
            events.append(
                TimelineEvent(
                    at=refund.created_at,
                    kind="refund",
                    channel=order.channel,
                    ref=refund.refund_id,
                    summary=(
                        f"refund {refund.refund_id} of {refund.amount:.2f} {order.currency}: {refund.status}"
                    ),
                    data={"order_id": order.order_id, "status": refund.status, "amount": refund.amount},
                )
            )
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.tenant_id == tenant_id, Ticket.customer_id == customer_id)
            .options(selectinload(Ticket.thread))
        )
    )
    for ticket in tickets:
        events.append(
            TimelineEvent(
                at=ticket.created_at,
                kind="message",
                channel=ticket.channel,
                ref=ticket.external_id,
                summary=ticket.subject or ticket.body[:120],
                data={
                    "status": ticket.status,
                    "tags": ticket.tags,
                    "tag_source": ticket.tag_source,
                    "order_ids": ticket_order_ids(ticket),
                    "locale": ticket.locale,
                    "linked_by": ticket.link_kind,
                    "merge_group_id": ticket.merge_group_id,
                    "thread_id": ticket.thread.external_id if ticket.thread else None,
                },
            )
        )
    # Audits name their tickets by external id, which also covers merges undone since.
    audits = session.scalars(
        select(MergeAudit).where(MergeAudit.tenant_id == tenant_id).order_by(MergeAudit.at)
    )
    own = {t.external_id for t in tickets}
    for audit in audits:
        if not own.intersection(audit.ticket_ids):
            continue
        events.append(
            TimelineEvent(
                at=audit.at,
                kind="merge" if audit.action == "merge" else "unmerge",
                channel=None,
                ref=str(audit.group_id),
                summary=f"{audit.action} of {', '.join(audit.ticket_ids)} by {audit.actor}"
                + (f": {audit.reason}" if audit.reason else ""),
                data={"ticket_ids": audit.ticket_ids, "actor": audit.actor},
            )
        )
    events.sort(key=lambda e: (e.at, e.kind))
    identities = list(
        session.scalars(
            select(Identity)
            .where(Identity.tenant_id == tenant_id, Identity.customer_id == customer_id)
            .order_by(Identity.id)
        )
    )
    return CustomerHistory(
        customer_id=customer.id,
        name=customer.name,
        identities=[identity_read(i) for i in identities],
        events=events,
    )
