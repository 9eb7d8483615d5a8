"""The demo shop's data beyond articles: orders and tickets (linked histories, duplicates) and seed macros."""

from __future__ import annotations

from core.settings import ROOT
from history import service
from replies.macros import ensure_seeded
from runtime import Runtime

DEMO_DIR = ROOT / "demo"


def load_demo_history(runtime: Runtime, tenant: str) -> None:
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


def load_demo_macros(runtime: Runtime, tenant: str) -> None:
    with runtime.session() as session:
        ensure_seeded(session, tenant_id=tenant)
