"""Small hand-checked fixtures: orders and tickets written through the history services."""

from __future__ import annotations

from typing import Any

from history import service as history_service
from history.schemas import OrderCreate, TicketCreate
from runtime import Runtime


def order(order_id: str, email: str, sku: str, title: str) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "channel": "amazon",
        "placed_at": "2026-09-01T09:00:00Z",
        "status": "shipped",
        "customer": {"email": email, "name": email.split("@")[0]},
        "items": [{"sku": sku, "title": title, "qty": 1, "price": 10.0}],
    }


def ticket(
    ticket_id: str,
    email: str,
    tags: list[str],
    at: str,
    *,
    channel: str = "amazon",
    status: str = "closed",
    body: str = "Hello, a question about my order.",
    order_id: str | None = None,
    handling: float | None = None,
) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "channel": channel,
        "customer": {"email": email},
        "body": body,
        "tags": tags,
        "created_at": at,
        "status": status,
        "order_id": order_id,
        "handling_seconds": handling,
    }


def load(
    runtime: Runtime,
    tenant_id: str,
    *,
    orders: list[dict[str, Any]] = (),  # type: ignore[assignment]
    tickets: list[dict[str, Any]] = (),
) -> None:  # type: ignore[assignment]
    with runtime.session() as session:
        for o in orders:
            history_service.upsert_order(session, tenant_id=tenant_id, order_in=OrderCreate.model_validate(o))
        history_service.import_tickets(
            session,
            runtime.search,
            tenant_id=tenant_id,
            tickets=[TicketCreate.model_validate(t) for t in tickets],
            file="test",
        )
    runtime.search.catch_up(tenant_id, "tickets")
