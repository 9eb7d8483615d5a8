"""The agent console's ticket queue: newest tickets first, read through the history domain when installed."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError


def recent_tickets(session: Session, *, tenant_id: str, status: str | None = None, channel: str | None = None,
                   limit: int = 50) -> list[Any]:
    """The newest tickets (as history's TicketRead), optionally one status or channel."""
    try:
        models = importlib.import_module("history.models")
        service = importlib.import_module("history.service")
    except ModuleNotFoundError as exc:
        if exc.name not in ("history", "history.models", "history.service"):
            raise
        raise NotFoundError("ticket history is not installed in this build") from exc
    Ticket = models.Ticket
    query = select(Ticket).where(Ticket.tenant_id == tenant_id)
    if status:
        query = query.where(Ticket.status == status)
    if channel:
        query = query.where(Ticket.channel == channel)
    rows = session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit))
    return [service.to_read(ticket) for ticket in rows]
