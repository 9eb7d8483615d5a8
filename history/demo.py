"""Loads the demo shop's orders and tickets so `deflect demo` shows linked histories and duplicates."""

from __future__ import annotations

from core.runtime import ROOT, Runtime
from history import service

DEMO_DIR = ROOT / "demo"


def load_demo(runtime: Runtime, tenant: str) -> None:
    """Imports demo/orders.jsonl then demo/tickets.jsonl (orders first, so messages link by order id)."""
    orders_path, tickets_path = DEMO_DIR / "orders.jsonl", DEMO_DIR / "tickets.jsonl"
    with runtime.session() as session:
        if orders_path.exists():
            service.import_orders(
                session, tenant_id=tenant, orders=service.parse_orders(orders_path), file=str(orders_path)
            )
        if tickets_path.exists():
            service.import_tickets(
                session,
                runtime.search,
                tenant_id=tenant,
                tickets=service.parse_tickets(tickets_path),
                file=str(tickets_path),
            )
    runtime.search.catch_up(tenant, "tickets")
    runtime.search.save(tenant, "tickets")
