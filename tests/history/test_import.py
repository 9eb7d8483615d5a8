from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import ImportFileError
from history import service
from history.models import Customer, Order, Shipment, Ticket
from runtime import Runtime
from tests.conftest import DEMO


def _count(runtime: Runtime, model: type) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_import_is_idempotent(runtime: Runtime) -> None:
    with runtime.session() as session:
        first = service.import_orders(
            session, tenant_id="acme", orders=service.parse_orders(DEMO / "orders.jsonl"), file="orders"
        )
        tickets = service.import_tickets(
            session,
            runtime.search,
            tenant_id="acme",
            tickets=service.parse_tickets(DEMO / "tickets.jsonl"),
            file="tickets",
        )
    assert first.created >= 40 and tickets.created >= 100
    counts = {m: _count(runtime, m) for m in (Order, Shipment, Ticket, Customer)}
    with runtime.session() as session:
        again = service.import_orders(
            session, tenant_id="acme", orders=service.parse_orders(DEMO / "orders.jsonl"), file="orders"
        )
        tickets_again = service.import_tickets(
            session,
            runtime.search,
            tenant_id="acme",
            tickets=service.parse_tickets(DEMO / "tickets.jsonl"),
            file="tickets",
        )
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    assert (tickets_again.created, tickets_again.updated) == (0, 0)
    assert {m: _count(runtime, m) for m in counts} == counts


def test_bad_line_rejects_the_whole_file(runtime: Runtime, tmp_path: Path) -> None:
    good = {
        "id": "t-1",
        "channel": "email",
        "body": "Where is my parcel?",
        "created_at": "2026-11-01T10:00:00Z",
    }
    path = tmp_path / "tickets.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good),
                json.dumps({**good, "id": "t-2", "channel": "fax"}),
                "{not json",
                json.dumps({**good, "id": "t-3", "body": ""}),
                json.dumps(good),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        service.parse_tickets(path)
    lines = {(e.line, e.reason.split(":")[0]) for e in caught.value.errors}
    assert {line for line, _ in lines} == {2, 3, 4, 5}
    assert all(e.file == str(path) for e in caught.value.errors)
    assert "duplicate id 't-1'" in caught.value.errors[-1].reason
    assert _count(runtime, Ticket) == 0


def test_changed_order_is_updated_in_place(runtime: Runtime) -> None:
    from tests.history.helpers import add_orders, order

    add_orders(runtime, "acme", order("171-0000001-0000001"))
    add_orders(
        runtime,
        "acme",
        order(
            "171-0000001-0000001",
            status="delivered",
            shipment={"carrier": "DHL", "tracking_number": "JD0001", "status": "delivered"},
        ),
    )
    with runtime.session() as session:
        stored = service.get_order(session, tenant_id="acme", order_id="171-0000001-0000001")
        assert stored is not None and stored.status == "delivered"
        assert [s.status for s in stored.shipments] == ["delivered"]
    assert _count(runtime, Shipment) == 1


def test_help_desk_status_names_are_read_as_ours(tmp_path: Path) -> None:
    base = {"channel": "email", "body": "Where is my parcel?", "created_at": "2026-11-01T10:00:00Z"}
    names = {"t-1": "Resolved", "t-2": "new", "t-3": "On-Hold", "t-4": "closed"}
    path = tmp_path / "tickets.jsonl"
    lines = [json.dumps({**base, "id": ticket_id, "status": name}) for ticket_id, name in names.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    statuses = {t.id: t.status for t in service.parse_tickets(path)}
    assert statuses == {"t-1": "solved", "t-2": "open", "t-3": "pending", "t-4": "closed"}
    path.write_text(json.dumps({**base, "id": "t-5", "status": "archived"}) + "\n", encoding="utf-8")
    with pytest.raises(ImportFileError):
        service.parse_tickets(path)


def test_an_fba_flag_is_read_as_the_fulfillment(tmp_path: Path) -> None:
    base = {"channel": "amazon", "items": [], "currency": "EUR"}
    rows = [
        {**base, "order_id": "402-0000001-0000001", "fulfilled_by_amazon": True},
        {**base, "order_id": "402-0000001-0000002", "is_fba": False},
        {**base, "order_id": "402-0000001-0000003", "fulfillment": "AFN", "fulfilled_by_amazon": False},
        {**base, "order_id": "402-0000001-0000004"},
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    found = {o.order_id: o.fulfillment for o in service.parse_orders(path)}
    assert list(found.values()) == ["FBA", "FBM", "FBA", None]
