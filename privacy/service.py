"""GDPR: export everything held about one customer; erase their personal data from the database and indexes.

Erasure deletes what only describes the person (the customer row, identities, their messages, the
drafts answering them, and the carrier events of their parcels) and strips the personal fields from
what the seller must keep for its books (orders keep items, amounts, status and carrier; lose contact,
customer link, tracking number and parcel location; mail records and the outbox keep only
Message-IDs and states, so mail read again is still recognised) and from the help-centre events of
their visits (kept for the deflection report; lose the e-mail and the search text). What remains is anonymous:
counts per channel and reason are kept in the audit row, so reports of the past can be explained
without the person. Deleted tickets leave the "tickets" search collection through the change log.

On SQLite, deleted content is zeroed in the file (`secure_delete`, core/db.py) and the write-ahead log,
which still holds the rows as first written, is truncated once the erasure commits.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from channels.models import InboundMail, OutboxMessage, ShopifyOrderState
from core.changes import record_changes
from core.db import truncate_wal_after_commit
from core.models import ReportSnapshot
from history.identity import TICKETS, normalise_email
from history.models import Identity, MergeGroup, Order, PrivacyAudit, ShipmentEvent, Ticket
from history.service import get_customer, orders_for_customer
from kb.events import DeflectionEvent
from replies.models import Draft

EXPORT_FORMAT = 1
# Who a Shopify order was for, in the kept webhook state (channels.shopify); items and amounts stay.
SHOPIFY_PERSONAL_FIELDS = frozenset({"email", "phone", "customer", "shipping_address"})


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _tickets(session: Session, *, tenant_id: str, customer_id: int) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.tenant_id == tenant_id, Ticket.customer_id == customer_id)
            .order_by(Ticket.id)
        )
    )


def _drafts(session: Session, *, tenant_id: str, customer_id: int, ticket_ids: list[str]) -> list[Draft]:
    """Drafts for the customer or answering one of their tickets (a draft from raw text may lack the link)."""
    found = {
        d.id: d
        for d in session.scalars(
            select(Draft).where(Draft.tenant_id == tenant_id, Draft.customer_id == customer_id)
        )
    }
    for start in range(0, len(ticket_ids), 500):
        for draft in session.scalars(
            select(Draft).where(
                Draft.tenant_id == tenant_id, Draft.ticket_id.in_(ticket_ids[start : start + 500])
            )
        ):
            found.setdefault(draft.id, draft)
    return [found[k] for k in sorted(found)]


def _emails(identities: list[Identity], orders: list[Order], tickets: list[Ticket]) -> set[str]:
    """Every e-mail address the customer is known by: linked identities, orders and tickets."""
    found = {i.value for i in identities if i.kind == "email"}
    for contact in [*(o.contact for o in orders), *(t.contact for t in tickets)]:
        email = normalise_email(str((contact or {}).get("email") or ""))
        if email:
            found.add(email)
    return found


def _deflection_events(
    session: Session, *, tenant_id: str, emails: set[str], ticket_ids: list[str]
) -> list[DeflectionEvent]:
    """Every help-centre event of a visit in which the customer gave their e-mail or filed a ticket."""
    if not emails and not ticket_ids:
        return []
    conditions = []
    if emails:
        conditions.append(DeflectionEvent.customer_email.in_(sorted(emails)))
    if ticket_ids:
        conditions.append(DeflectionEvent.ticket_id.in_(ticket_ids))
    sessions = select(DeflectionEvent.session_id).where(
        DeflectionEvent.tenant_id == tenant_id, or_(*conditions)
    )
    return list(
        session.scalars(
            select(DeflectionEvent)
            .where(DeflectionEvent.tenant_id == tenant_id, DeflectionEvent.session_id.in_(sessions))
            .order_by(DeflectionEvent.id)
        )
    )


def export_customer(session: Session, *, tenant_id: str, customer_id: int, actor: str) -> dict[str, Any]:
    """Everything held about one customer, as plain JSON; the export itself is audited."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    identities = list(
        session.scalars(
            select(Identity)
            .where(Identity.tenant_id == tenant_id, Identity.customer_id == customer_id)
            .order_by(Identity.id)
        )
    )
    orders = orders_for_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    tickets = _tickets(session, tenant_id=tenant_id, customer_id=customer_id)
    drafts = _drafts(
        session, tenant_id=tenant_id, customer_id=customer_id, ticket_ids=[t.external_id for t in tickets]
    )
    events = _deflection_events(
        session,
        tenant_id=tenant_id,
        emails=_emails(identities, orders, tickets),
        ticket_ids=[t.external_id for t in tickets],
    )
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "customer": {"id": customer.id, "name": customer.name, "created_at": _iso(customer.created_at)},
        "identities": [
            {
                "id": i.id,
                "kind": i.kind,
                "value": i.value,
                "reason": i.reason,
                "evidence": i.evidence,
                "linked_by": i.linked_by,
                "created_at": _iso(i.created_at),
                "unlinked_at": _iso(i.unlinked_at),
            }
            for i in identities
        ],
        "orders": [
            {
                "order_id": o.order_id,
                "channel": o.channel,
                "placed_at": _iso(o.placed_at),
                "status": o.status,
                "currency": o.currency,
                "contact": o.contact,
                "items": [{"sku": i.sku, "title": i.title, "qty": i.qty, "price": i.price} for i in o.items],
                "shipments": [
                    {
                        "carrier": s.carrier,
                        "tracking_number": s.tracking_number,
                        "status": s.status,
                        "eta": _iso(s.eta),
                        "status_at": _iso(s.status_at),
                        "location": s.location,
                    }
                    for s in o.shipments
                ],
                "refunds": [
                    {
                        "refund_id": r.refund_id,
                        "status": r.status,
                        "amount": r.amount,
                        "created_at": _iso(r.created_at),
                    }
                    for r in o.refunds
                ],
            }
            for o in orders
        ],
        "tickets": [
            {
                "id": t.external_id,
                "channel": t.channel,
                "order_id": t.order_id,
                "subject": t.subject,
                "body": t.body,
                "locale": t.locale,
                "tags": t.tags,
                "status": t.status,
                "resolution": t.resolution,
                "created_at": _iso(t.created_at),
                "contact": t.contact,
                "linked_by": t.link_kind,
                "merge_group_id": t.merge_group_id,
            }
            for t in tickets
        ],
        "drafts": [
            {
                "id": d.id,
                "ticket_id": d.ticket_id,
                "channel": d.channel,
                "locale": d.locale,
                "message": d.message,
                "reply": d.reply,
                "order_id": d.order_id,
                "created_at": _iso(d.created_at),
            }
            for d in drafts
        ],
        "deflection_events": [
            {
                "session_id": e.session_id,
                "kind": e.kind,
                "source": e.source,
                "topic": e.topic,
                "channel": e.channel,
                "locale": e.locale,
                "query": e.query,
                "article_id": e.article_id,
                "customer_email": e.customer_email,
                "ticket_id": e.ticket_id,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
    }
    session.add(
        PrivacyAudit(
            tenant_id=tenant_id,
            customer_id=customer_id,
            action="export",
            actor=actor,
            counts={k: len(v) for k, v in data.items() if isinstance(v, list)},
        )
    )
    session.flush()
    return data


def erase_customer(session: Session, *, tenant_id: str, customer_id: int, actor: str) -> dict[str, Any]:
    """Removes the customer's personal data; returns the audit's counts. Not reversible."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    tickets = _tickets(session, tenant_id=tenant_id, customer_id=customer_id)
    ticket_ids = [t.external_id for t in tickets]
    drafts = _drafts(session, tenant_id=tenant_id, customer_id=customer_id, ticket_ids=ticket_ids)
    identities = list(
        session.scalars(
            select(Identity).where(Identity.tenant_id == tenant_id, Identity.customer_id == customer_id)
        )
    )
    orders = list(
        session.scalars(select(Order).where(Order.tenant_id == tenant_id, Order.customer_id == customer_id))
    )
    events = _deflection_events(
        session, tenant_id=tenant_id, emails=_emails(identities, orders, tickets), ticket_ids=ticket_ids
    )
    tracking_numbers = sorted({s.tracking_number for o in orders for s in o.shipments if s.tracking_number})
    counts: dict[str, Any] = {
        "tickets": len(tickets),
        "drafts": len(drafts),
        "identities": len(identities),
        "orders_anonymised": len(orders),
        "deflection_events_anonymised": len(events),
        # Anonymous aggregates: what the erased contacts were about, for reports that counted them.
        "tickets_by_channel": dict(Counter(t.channel for t in tickets)),
        "tickets_by_tag": dict(Counter(tag for t in tickets for tag in t.tags)),
    }

    for event in events:
        event.query = None
        event.customer_email = None
    # The carrier's events of these parcels: tracking numbers and locations, nothing the books need.
    counts["shipment_events"] = 0
    for start in range(0, len(tracking_numbers), 500):
        result = session.execute(
            delete(ShipmentEvent).where(
                ShipmentEvent.tenant_id == tenant_id,
                ShipmentEvent.tracking_number.in_(tracking_numbers[start : start + 500]),
            )
        )
        counts["shipment_events"] += int(getattr(result, "rowcount", 0) or 0)
    for order in orders:
        order.contact = {}
        order.customer_id = None
        order.identity_id = None
        for shipment in order.shipments:
            shipment.tracking_number = None
            shipment.location = None
    erased = set(ticket_ids)
    if erased:
        # Merge groups keep other customers' tickets; only the erased members' entries go.
        for group in session.scalars(select(MergeGroup).where(MergeGroup.tenant_id == tenant_id)):
            states = group.before.get("tickets", {})
            if erased.intersection(states) or any(n.get("ticket_id") in erased for n in group.notes):
                group.before = {
                    **group.before,
                    "tickets": {k: v for k, v in states.items() if k not in erased},
                }
                group.notes = [n for n in group.notes if n.get("ticket_id") not in erased]
    if erased:
        # The Message-IDs stay, so the same mail read again (or our copy of a reply) is still skipped.
        session.execute(
            update(InboundMail)
            .where(InboundMail.tenant_id == tenant_id, InboundMail.ticket_id.in_(erased))
            .values(reply_to="", subject="", order_id=None, order_ids=[], references=[], attachments=[])
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.tenant_id == tenant_id, OutboxMessage.ticket_id.in_(erased))
            .values(to_address="", subject="", body="", in_reply_to=None, references=[], compliance={})
        )
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.tenant_id == tenant_id,
                OutboxMessage.ticket_id.in_(erased),
                OutboxMessage.status.in_(["pending", "blocked"]),
            )
            .values(status="cancelled", last_error="customer erased")
        )
    names = {order.order_id for order in orders}
    for state in session.scalars(select(ShopifyOrderState).where(ShopifyOrderState.tenant_id == tenant_id)):
        if state.order and state.order.get("name") in names:
            state.order = {k: v for k, v in state.order.items() if k not in SHOPIFY_PERSONAL_FIELDS}
    # Precomputed reports quote customers' words (content-gap examples): the next worker run recomputes.
    counts["report_snapshots"] = int(
        getattr(
            session.execute(delete(ReportSnapshot).where(ReportSnapshot.tenant_id == tenant_id)),
            "rowcount",
            0,
        )
    )
    record_changes(
        session, tenant_id=tenant_id, collection=TICKETS, item_ids=[t.id for t in tickets], op="delete"
    )
    for row in [*drafts, *tickets]:
        session.delete(row)
    session.flush()
    for identity in identities:
        session.delete(identity)
    session.delete(customer)
    session.add(
        PrivacyAudit(tenant_id=tenant_id, customer_id=customer_id, action="erase", actor=actor, counts=counts)
    )
    session.flush()
    truncate_wal_after_commit(session)
    return counts
