"""Small builders for history tests."""

from __future__ import annotations

from typing import Any

from history import service
from history.schemas import IngestResult, OrderCreate, TicketCreate
from runtime import Runtime


def order(order_id: str, channel: str = "amazon", **overrides: Any) -> OrderCreate:
    raw: dict[str, Any] = {
        "order_id": order_id,
        "channel": channel,
        "placed_at": "2026-11-01T10:00:00Z",
        "status": "shipped",
        "customer": {
            "email": "relay1@marketplace.amazon.de",
            "name": "Anna Schmidt",
            "marketplace_customer_id": "A1ANNA",
            "address": "Hauptstrasse 5, 10115 Berlin",
        },
        "items": [{"sku": "LAMP-1", "title": "Desk lamp", "qty": 1, "price": 39.9}],
        "shipment": {
            "carrier": "DHL",
            "tracking_number": "JD0001",
            "status": "in_transit",
            "eta": "2026-11-05",
        },
    }
    raw.update(overrides)
    return OrderCreate.model_validate(raw)


def ticket(
    ticket_id: str,
    body: str,
    *,
    channel: str = "email",
    created_at: str = "2026-11-03T09:00:00Z",
    **overrides: Any,
) -> TicketCreate:
    raw: dict[str, Any] = {
        "id": ticket_id,
        "channel": channel,
        "body": body,
        "created_at": created_at,
        "customer": {},
        "locale": "en",
    }
    raw.update(overrides)
    return TicketCreate.model_validate(raw)


def ingest(
    runtime: Runtime, tenant_id: str, *tickets: TicketCreate, check: bool = True
) -> list[IngestResult]:
    with runtime.session() as session:
        results = service.ingest_tickets(
            session, runtime.search, tenant_id=tenant_id, tickets=list(tickets), check_duplicates=check
        )
    runtime.search.catch_up(tenant_id, "tickets")
    return results


def add_orders(runtime: Runtime, tenant_id: str, *orders: OrderCreate) -> None:
    with runtime.session() as session:
        service.import_orders(session, tenant_id=tenant_id, orders=list(orders), file="test")
