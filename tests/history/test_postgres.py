"""The customer-history flow again on a real PostgreSQL server (tests/pg.py): import, identities, duplicates,
merge/undo and the ticket list, where JSON columns, time zones and LIKE behave differently from SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from core.errors import ImportFileError
from core.settings import Settings
from history import service
from history.duplicates import duplicates_of
from history.models import Customer, Identity, MergeAudit, Order, Shipment, Ticket
from replies import merge
from runtime import Runtime
from tests.conftest import DEMO, make_tenant
from tests.history.helpers import add_orders, ingest, order, ticket
from tests.support.encoders import hashing_encoders

pytestmark = pytest.mark.postgres

WHERE = "Where is my parcel? The tracking has not moved for five days and the lamp has still not arrived."
WHERE_AGAIN = "My parcel has still not arrived, the tracking has not moved for days. Where is my lamp?"


@pytest.fixture
def pg_runtime(pg_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime(pg_settings, encoders=hashing_encoders)
    runtime.migrate()
    yield runtime
    runtime.close()


def _count(runtime: Runtime, model: type) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _tickets(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.session() as session:
        rows = session.scalars(select(Ticket).order_by(Ticket.id))
        return {t.external_id: {c.key: getattr(t, c.key) for c in Ticket.__table__.columns} for t in rows}


def test_demo_import_is_idempotent_and_bad_files_write_nothing(pg_runtime: Runtime, tmp_path: Path) -> None:
    def run() -> tuple[Any, Any]:
        with pg_runtime.session() as session:
            orders = service.import_orders(
                session, tenant_id="acme", file="orders", orders=service.parse_orders(DEMO / "orders.jsonl")
            )
            tickets = service.import_tickets(
                session,
                pg_runtime.search,
                tenant_id="acme",
                file="tickets",
                tickets=service.parse_tickets(DEMO / "tickets.jsonl"),
            )
        return orders, tickets

    orders, tickets = run()
    assert orders.created >= 40 and tickets.created >= 100
    counts = {m: _count(pg_runtime, m) for m in (Order, Shipment, Ticket, Customer, Identity)}
    before = _tickets(pg_runtime)
    again_orders, again_tickets = run()
    assert (again_orders.created, again_orders.updated) == (0, 0)
    assert (again_tickets.created, again_tickets.updated, again_tickets.unchanged) == (0, 0, tickets.created)
    assert {m: _count(pg_runtime, m) for m in counts} == counts and _tickets(pg_runtime) == before

    bad = tmp_path / "tickets.jsonl"
    good = {
        "id": "t-new",
        "channel": "email",
        "body": "Where is my parcel?",
        "created_at": "2026-11-01T10:00:00Z",
    }
    bad.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "t-bad", "channel": "fax"}) + "\n")
    with pytest.raises(ImportFileError) as error:
        service.parse_tickets(bad)
    assert [(e.line, "channel" in e.reason) for e in error.value.errors] == [(2, True)]
    assert _count(pg_runtime, Ticket) == counts[Ticket]


def test_identity_resolution_and_timeline(pg_runtime: Runtime) -> None:
    add_orders(
        pg_runtime,
        "acme",
        order("302-1184736-9920417"),
        order(
            "#1001",
            channel="shopify",
            customer={
                "name": "Claire Dubois",
                "email": "claire@example.fr",
                "address": "14 rue des Tanneurs, 69001 Lyon",
            },
        ),
    )
    [amazon] = ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-1",
            "Where is my lamp?",
            channel="amazon",
            customer={"email": "relay1@marketplace.amazon.de", "marketplace_customer_id": "A1ANNA"},
        ),
    )
    [mail] = ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-2",
            "My order 302-1184736-9920417 has still not arrived.",
            customer={"email": "anna.schmidt@example.de"},
        ),
    )
    [fuzzy] = ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-3",
            "Bonjour",
            customer={
                "name": "Dubois Claire",
                "address": "14, Rue des Tanneurs 69001 LYON",
                "email": "cd@other.fr",
            },
        ),
    )
    [namesake] = ingest(
        pg_runtime,
        "acme",
        ticket("t-4", "Bonjour", customer={"name": "Claire Dubois", "email": "someone-else@example.fr"}),
    )
    links = (amazon.link, mail.link, fuzzy.link, namesake.link)
    assert links == ("marketplace_id", "order", "name_address", "new")
    assert mail.ticket.customer_id == amazon.ticket.customer_id
    with pg_runtime.session() as session:
        claire = service.get_order(session, tenant_id="acme", order_id="1001")
        assert claire is not None and fuzzy.ticket.customer_id == claire.customer_id
        assert namesake.ticket.customer_id != claire.customer_id
        linked = session.scalars(select(Identity).where(Identity.value == "cd@other.fr")).one()
        assert linked.evidence["block"] == "postcode 69001" and linked.evidence["address_score"] >= 85
        history = service.customer_timeline(
            session, tenant_id="acme", customer_id=mail.ticket.customer_id or 0
        )
    assert [e.kind for e in history.events] == ["order", "shipment", "message", "message"]
    email = next(i for i in history.identities if i.value == "anna.schmidt@example.de")
    assert email.evidence["order_id"] == "302-1184736-9920417"


def test_duplicates_hard_negatives_merge_and_undo(pg_runtime: Runtime) -> None:
    add_orders(pg_runtime, "acme", order("302-1184736-9920417"))
    ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-1",
            WHERE,
            channel="amazon",
            tags=["tracking"],
            thread_id="thr-1",
            customer={"marketplace_customer_id": "A1ANNA"},
        ),
    )
    [again] = ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-2",
            WHERE_AGAIN + " Order 302-1184736-9920417.",
            created_at="2026-11-04T09:00:00Z",
            tags=["tracking"],
            locale="fr",
            customer={"email": "anna@example.de"},
        ),
    )
    assert [d.ticket_id for d in again.duplicates] == ["t-1"]
    [stranger] = ingest(
        pg_runtime,
        "acme",
        ticket("t-3", "Where is my order?", tags=["tracking"], customer={"email": "b@example.com"}),
    )
    [other_problem] = ingest(
        pg_runtime,
        "acme",
        ticket(
            "t-4",
            "Could you send me an invoice with VAT for my company? I need it for my accounting.",
            tags=["invoice"],
            customer={"email": "anna@example.de"},
            created_at="2026-11-04T10:00:00Z",
        ),
    )
    assert stranger.duplicates == [] and other_problem.duplicates == []
    with pg_runtime.session() as session:
        _, on_demand = duplicates_of(
            session, pg_runtime.search, tenant_id="acme", ticket_id="t-1", window_days=14
        )
    assert [c.ticket_id for c in on_demand if c.is_duplicate] == ["t-2"]

    before = _tickets(pg_runtime)
    with pg_runtime.session() as session:
        group = merge.merge_tickets(
            session, tenant_id="acme", ticket_ids=["t-2", "t-1"], actor="agent-1", reason="same parcel"
        )
        read = merge.to_read(session, group)
    assert read.primary_ticket_id == "t-1"
    [note] = read.notes
    assert note.ticket_id == "t-2" and "commande 302-1184736-9920417" in note.text and note.macro_version == 1
    with pg_runtime.session() as session:
        merge.undo_merge(session, tenant_id="acme", group_id=read.id, actor="agent-1", reason="wrong")
    assert _tickets(pg_runtime) == before
    with pg_runtime.session() as session:
        audits = [(a.action, a.actor) for a in session.scalars(select(MergeAudit).order_by(MergeAudit.id))]
    assert audits == [("merge", "agent-1"), ("undo", "agent-1")]


def test_ticket_list_filters_and_pages(pg_runtime: Runtime, pg_settings: Settings) -> None:
    tenant = make_tenant(pg_runtime, "acme")
    ingest(
        pg_runtime,
        "acme",
        ticket("t-1", "Parcel?", created_at="2026-11-01T08:00:00Z", tags=["tracking"]),
        ticket(
            "t-2",
            "Label?",
            channel="amazon",
            created_at="2026-11-02T08:00:00Z",
            tags=["return_label", "tracking"],
        ),
        ticket("t-3", "Invoice?", created_at="2026-11-02T08:00:00Z", tags=["invoice"], status="solved"),
        check=False,
    )
    with TestClient(create_app(pg_settings, runtime=pg_runtime, warm_sync=True)) as client:
        agent = tenant.headers("agent")

        def ids(**params: object) -> list[str]:
            response = client.get("/v1/tickets", params=params, headers=agent)
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["items"]]

        assert ids() == ["t-3", "t-2", "t-1"]
        assert ids(tag="tracking") == ["t-2", "t-1"] and ids(tag="return_label") == ["t-2"]
        assert ids(status="solved") == ["t-3"] and ids(channel="amazon") == ["t-2"]
        assert ids(q="LABEL") == ["t-2"] and ids(q="t-1") == ["t-1"] and ids(q="100%") == []
        first = client.get("/v1/tickets", params={"limit": 2}, headers=agent).json()
        second = client.get(
            "/v1/tickets", params={"limit": 2, "cursor": first["next_cursor"]}, headers=agent
        ).json()
        assert [t["id"] for t in first["items"] + second["items"]] == ["t-3", "t-2", "t-1"]
        assert second["next_cursor"] is None
