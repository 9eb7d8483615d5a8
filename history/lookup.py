"""Ticket look-ups shared by the ticket service and duplicate detection."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from history.identity import canonical_order_id, find_order_ids
from history.models import Ticket


def get_ticket(session: Session, *, tenant_id: str, ticket_id: str) -> Ticket:
    """One ticket by its external id, or NotFoundError."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.external_id == ticket_id)
    )
    if ticket is None:
        raise NotFoundError(f"ticket {ticket_id!r} not found")
    return ticket


def ticket_order_ids(ticket: Ticket) -> list[str]:
    """The attached order id first, then every order id written in the subject or body."""
    ids = [canonical_order_id(ticket.order_id)] if ticket.order_id else []
    for found in find_order_ids(ticket.text):
        if canonical_order_id(found) not in ids:
            ids.append(canonical_order_id(found))
    return ids
