"""GDPR export and erasure: all held is exported; erasure leaves nothing personal in DB, index or drafts."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from history import shipments
from history.models import Customer, Identity, Order, PrivacyAudit, Shipment, Ticket
from replies.models import Draft
from runtime import Runtime
from tests.conftest import TenantKeys

EMAIL = "jeanne.martin@example.fr"
NAME = "Jeanne Martin"
PHONE = "+33 6 12 34 56 78"
ADDRESS = "12 rue des Lilas, 69003 Lyon"
SECRET_WORD = "lilacparcel"  # a word only her messages contain, to look for in the search index
CARD = "4111 1111 1111 1111"


def _seed(client: TestClient, tenant: TenantKeys) -> int:
    contact = {"email": EMAIL, "name": NAME, "phone": PHONE, "address": ADDRESS}
    order = {
        "order_id": "#5001",
        "channel": "shopify",
        "customer": contact,
        "status": "shipped",
        "items": [{"sku": "MUG", "title": "Mug", "qty": 2, "price": 9.5}],
        "shipment": {
            "carrier": "Colissimo",
            "tracking_number": "6A123456789",
            "status": "in_transit",
            "location": "Lyon",
        },
    }
    assert client.post("/v1/orders/import", json=[order], headers=tenant.headers("admin")).status_code == 200
    tickets = {
        "tickets": [
            {
                "id": "jm-1",
                "channel": "email",
                "customer": contact,
                "order_id": "#5001",
                "body": f"Where is my {SECRET_WORD} for order #5001? Call me on {PHONE}.",
            },
            {
                "id": "jm-2",
                "channel": "email",
                "customer": contact,
                "body": f"Still no {SECRET_WORD}, {NAME}",
            },
        ]
    }
    created = client.post("/v1/tickets", json=tickets, headers=tenant.headers("agent"))
    assert created.status_code == 201, created.text
    other = {
        "id": "other-1",
        "channel": "email",
        "customer": {"email": "someone@example.com"},
        "body": "Where is my parcel?",
    }
    assert client.post("/v1/tickets", json=other, headers=tenant.headers("agent")).status_code == 201
    draft = client.post(
        "/v1/drafts", json={"ticket_id": "jm-1", "rewrite": False}, headers=tenant.headers("agent")
    )
    assert draft.status_code == 200, draft.text
    return int(created.json()["results"][0]["ticket"]["customer_id"])


def test_export_holds_everything_about_the_customer(client: TestClient, tenant: TenantKeys) -> None:
    customer_id = _seed(client, tenant)
    refused = client.get(f"/v1/customers/{customer_id}/export", headers=tenant.headers("public"))
    assert refused.status_code == 403
    response = client.get(f"/v1/customers/{customer_id}/export", headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["customer"]["name"] == NAME
    assert {i["kind"] for i in data["identities"]} >= {"email"}
    assert len(data["orders"]) == 1 and data["orders"][0]["contact"]["email"] == EMAIL
    assert {t["id"] for t in data["tickets"]} == {"jm-1", "jm-2"}
    assert len(data["drafts"]) == 1 and data["drafts"][0]["ticket_id"] == "jm-1"
    assert "other-1" not in json.dumps(data) and "someone@example.com" not in json.dumps(data)


def test_erasure_removes_personal_data_from_db_index_and_drafts(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    customer_id = _seed(client, tenant)
    search = runtime.search
    search.catch_up(tenant.tenant_id, "tickets")
    tickets = search.collection(tenant.tenant_id, "tickets")
    assert any(SECRET_WORD in item.text for item in tickets.items.values())

    assert client.delete(f"/v1/customers/{customer_id}", headers=tenant.headers("agent")).status_code == 403
    response = client.delete(f"/v1/customers/{customer_id}", headers=tenant.headers("admin"))
    assert response.status_code == 200, response.text
    erased = response.json()["erased"]
    assert erased["tickets"] == 2 and erased["drafts"] == 1 and erased["orders_anonymised"] == 1
    assert erased["tickets_by_channel"] == {"email": 2}

    with runtime.session() as session:
        assert session.get(Customer, customer_id) is None
        assert not list(session.scalars(select(Identity).where(Identity.customer_id == customer_id)))
        assert not list(session.scalars(select(Ticket).where(Ticket.external_id.in_(["jm-1", "jm-2"]))))
        assert not list(session.scalars(select(Draft).where(Draft.ticket_id == "jm-1")))
        order = session.scalar(select(Order).where(Order.tenant_id == tenant.tenant_id))
        assert order is not None and order.contact == {} and order.customer_id is None
        shipment = session.scalar(select(Shipment).where(Shipment.order_id == order.id))
        assert shipment is not None and shipment.tracking_number is None and shipment.carrier == "Colissimo"
        audit = session.scalar(select(PrivacyAudit).where(PrivacyAudit.action == "erase"))
        assert audit is not None and audit.customer_id == customer_id and audit.actor.startswith("admin-key:")
        # Nothing personal survives anywhere in the tenant's rows (the audit holds counts only).
        for row in session.scalars(select(Ticket)):
            assert SECRET_WORD not in row.body and EMAIL not in json.dumps(row.contact)
        assert EMAIL not in json.dumps(audit.counts) and NAME not in json.dumps(audit.counts)
        remaining = [i.value for i in session.scalars(select(Identity))]
        assert not any(EMAIL in v or "612345678" in v.replace(" ", "") for v in remaining)

    search.catch_up(tenant.tenant_id, "tickets")
    assert not any(SECRET_WORD in item.text for item in tickets.items.values())
    assert tickets.index.count() == len(tickets.items) == 1
    # A restart rebuilds from the database and the snapshot: still gone.
    search.save(tenant.tenant_id, "tickets")
    search.forget(tenant.tenant_id)
    reloaded = search.collection(tenant.tenant_id, "tickets")
    assert [item.key for item in reloaded.items.values()] == ["other-1"]

    history = client.get(f"/v1/customers/{customer_id}/history", headers=tenant.headers("agent"))
    assert history.status_code == 404
    assert client.get("/v1/tickets/jm-1", headers=tenant.headers("agent")).status_code == 404
    assert client.delete(f"/v1/customers/{customer_id}", headers=tenant.headers("admin")).status_code == 404


def test_erasure_is_scoped_to_the_keys_tenant(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    from tests.conftest import make_tenant

    customer_id = _seed(client, tenant)
    intruder = make_tenant(runtime, "intruder")
    assert client.delete(f"/v1/customers/{customer_id}", headers=intruder.headers("admin")).status_code == 404
    export = client.get(f"/v1/customers/{customer_id}/export", headers=intruder.headers("agent"))
    assert export.status_code == 404
    with runtime.session() as session:
        assert session.get(Customer, customer_id) is not None


def test_stored_drafts_hold_no_card_numbers_or_passwords(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    api_key = "dfk_adm_" + "Zq3" * 8  # only core.redact knows this shape; the compliance detectors do not
    text = f"My card {CARD} was charged twice, password: hunter22, key {api_key} - where is order #5001?"
    response = client.post(
        "/v1/drafts",
        json={"text": text, "channel": "email", "rewrite": False},
        headers=tenant.headers("agent"),
    )
    assert response.status_code == 200, response.text
    with runtime.session() as session:
        stored = session.get(Draft, response.json()["id"])
        assert stored is not None
        for field in (stored.message, stored.reply):
            assert CARD not in field and CARD.replace(" ", "") not in field and "hunter22" not in field
            assert api_key not in field
        assert "5001" in stored.message  # order ids are kept: the agent needs them


SEARCH_PHRASE = "whereabouts of my lilac teapot"  # what she typed into the help-centre search
PARCEL_LOCATION = "Villeurbanne sorting hub"


def _files_holding(data_dir: Path, phrases: list[bytes]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            raw = path.read_bytes()
            hits = [p.decode() for p in phrases if p in raw]
            if hits:
                found[str(path.relative_to(data_dir))] = hits
    return found


def test_erasure_leaves_no_byte_of_the_customer_in_the_data_directory(
    client: TestClient, tenant: TenantKeys, runtime: Runtime, settings: Settings
) -> None:
    customer_id = _seed(client, tenant)
    session_id = "visit-jeanne-0001"
    events = {
        "events": [
            {"session_id": session_id, "kind": "impression", "query": SEARCH_PHRASE},
            {"session_id": session_id, "kind": "contact_anyway", "customer_email": EMAIL},
        ]
    }
    assert (
        client.post("/v1/deflection/events", json=events, headers=tenant.headers("public")).status_code == 202
    )
    secret = client.post("/v1/shipments/webhook-secret", headers=tenant.headers("admin")).json()["secret"]
    body = json.dumps(
        {
            "tracking_number": "6A123456789",
            "status": "delivered",
            "location": PARCEL_LOCATION,
            "occurred_at": "2026-01-02T10:00:00Z",
        }
    ).encode()
    signed = client.post(
        "/v1/shipments/events",
        content=body,
        headers={"X-Deflect-Tenant": tenant.tenant_id, "X-Deflect-Signature": shipments.sign(secret, body)},
    )
    assert signed.status_code == 200, signed.text
    runtime.search.sync_all()
    phrases = [
        p.encode()
        for p in (
            NAME,
            EMAIL,
            PHONE,
            "+33612345678",
            ADDRESS,
            "rue des Lilas",
            SECRET_WORD,
            SEARCH_PHRASE,
            PARCEL_LOCATION,
            "6A123456789",
        )
    ]
    # The phrases are really there before (the check can see them), in the database file or its WAL.
    assert {hit for hits in _files_holding(settings.data_dir, phrases).values() for hit in hits} == {
        p.decode() for p in phrases
    }

    export = client.get(f"/v1/customers/{customer_id}/export", headers=tenant.headers("agent")).json()
    exported = {e["query"] for e in export["deflection_events"]}
    assert SEARCH_PHRASE in exported and len(export["deflection_events"]) == 2

    erased = client.delete(f"/v1/customers/{customer_id}", headers=tenant.headers("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["deflection_events_anonymised"] == 2
    assert erased.json()["erased"]["shipment_events"] == 1
    runtime.search.sync_all()  # the index snapshots are rewritten without her tickets

    assert _files_holding(settings.data_dir, phrases) == {}
    # The deflection report still counts her visit, anonymously.
    report = client.get("/v1/reports/deflection", headers=tenant.headers("agent"))
    assert report.status_code == 200 and report.json()["total"]["sessions"] >= 1
