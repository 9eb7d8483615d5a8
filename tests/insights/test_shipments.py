"""Carrier webhook: HMAC over the raw body, idempotent, order-independent, visible in drafts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from history import service as history_service
from history.models import ShipmentEvent
from history.schemas import OrderCreate
from history.shipments import sign
from runtime import Runtime

TRACKING = "00340434190012877645"
ORDER = {
    "order_id": "113-4455667-1234567",
    "channel": "amazon",
    "placed_at": "2026-11-10T09:00:00Z",
    "status": "shipped",
    "customer": {
        "email": "jane@marketplace.amazon.com",
        "name": "Jane Doe",
        "marketplace_customer_id": "A1JANE",
    },
    "items": [{"sku": "LMP-1", "title": "Nimbus desk lamp", "qty": 1, "price": 59.99}],
    "shipment": {
        "carrier": "DHL",
        "tracking_number": TRACKING,
        "status": "in_transit",
        "status_at": "2026-11-11T08:00:00Z",
        "eta": "2026-11-27",
    },
}


@pytest.fixture
def secret(client: TestClient, runtime: Runtime, tenant: Any) -> str:
    with runtime.session() as session:
        history_service.upsert_order(
            session, tenant_id=tenant.tenant_id, order_in=OrderCreate.model_validate(ORDER)
        )
    response = client.post("/v1/shipments/webhook-secret", headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def _post(
    client: TestClient,
    tenant: Any,
    secret: str,
    event: dict[str, Any],
    *,
    signature: str | None = None,
    tenant_id: str | None = None,
) -> Any:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Deflect-Tenant": tenant_id or tenant.tenant_id,
        "X-Deflect-Signature": signature if signature is not None else sign(secret, body),
    }
    return client.post("/v1/shipments/events", content=body, headers=headers)


def _event(status: str, at: str, location: str | None = None) -> dict[str, Any]:
    return {"tracking_number": TRACKING, "status": status, "location": location, "occurred_at": at}


def _status(client: TestClient, tenant: Any) -> tuple[str, str | None, str | None]:
    history = client.get("/v1/customers/1/history", headers=tenant.headers("agent")).json()
    shipment = next(e for e in history["events"] if e["kind"] == "shipment")
    return shipment["data"]["status"], shipment["data"]["location"], shipment["at"]


def test_only_admins_issue_secrets_and_rotation_invalidates_the_old_one(
    client: TestClient, tenant: Any, secret: str
) -> None:
    assert client.post("/v1/shipments/webhook-secret", headers=tenant.headers("agent")).status_code == 403
    event = _event("out_for_delivery", "2026-11-12T07:00:00Z", "Lyon")
    rotated = client.post("/v1/shipments/webhook-secret", headers=tenant.headers("admin")).json()["secret"]
    assert rotated != secret
    assert _post(client, tenant, secret, event).status_code == 401
    assert _post(client, tenant, rotated, event).status_code == 200


def test_bad_signature_unknown_tenant_and_unknown_tracking(
    client: TestClient, tenant: Any, secret: str
) -> None:
    event = _event("delivered", "2026-11-12T10:00:00Z")
    tampered = json.dumps({**event, "status": "returned"}).encode()
    bad = _post(client, tenant, secret, event, signature=sign(secret, tampered))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    assert _post(client, tenant, secret, event, signature="").status_code == 401
    assert _post(client, tenant, secret, event, tenant_id="nobody").status_code == 401
    assert _post(client, tenant, "whsec_guess", event).status_code == 401
    unknown = _post(client, tenant, secret, {**event, "tracking_number": "NOPE123"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    invalid = _post(client, tenant, secret, {"tracking_number": TRACKING, "status": "delivered"})
    assert invalid.status_code == 422
    assert _status(client, tenant)[0] == "in_transit"  # nothing above changed the shipment


def test_events_are_idempotent_and_order_independent(
    client: TestClient, runtime: Runtime, tenant: Any, secret: str
) -> None:
    out = _event("out_for_delivery", "2026-11-12T07:00:00Z", "Lyon depot")
    delivered = _event("delivered", "2026-11-12T10:30:00+01:00", "Lyon")  # 09:30 UTC
    older = _event("in_transit", "2026-11-11T20:00:00Z", "Paris hub")

    assert _post(client, tenant, secret, delivered).json()["outcome"] == "applied"
    # Arriving late: both are older than the delivery already recorded.
    assert _post(client, tenant, secret, out).json()["outcome"] == "stale"
    assert _post(client, tenant, secret, older).json()["outcome"] == "stale"
    again = _post(client, tenant, secret, delivered).json()
    assert again["outcome"] == "duplicate"
    assert again["shipments"] == [
        {
            "order_id": "113-4455667-1234567",
            "carrier": "DHL",
            "tracking_number": TRACKING,
            "status": "delivered",
            "status_at": "2026-11-12T09:30:00Z",
            "location": "Lyon",
        }
    ]
    assert _status(client, tenant) == ("delivered", "Lyon", "2026-11-12T09:30:00Z")
    with runtime.session() as session:
        rows = session.query(ShipmentEvent).order_by(ShipmentEvent.id).all()
        assert [(r.status, r.applied) for r in rows] == [
            ("delivered", True),
            ("out_for_delivery", False),
            ("in_transit", False),
        ]


def test_same_time_events_resolve_to_the_later_stage_in_either_order(
    client: TestClient, tenant: Any, secret: str
) -> None:
    at = "2026-11-12T09:00:00Z"
    assert _post(client, tenant, secret, _event("delivered", at)).json()["outcome"] == "applied"
    assert _post(client, tenant, secret, _event("out_for_delivery", at)).json()["outcome"] == "stale"
    assert _status(client, tenant)[0] == "delivered"


def test_a_draft_shows_the_status_from_the_webhook(client: TestClient, tenant: Any, secret: str) -> None:
    body = {"text": "Where is order 113-4455667-1234567?", "channel": "amazon", "locale": "en"}
    before = client.post("/v1/drafts", json=body, headers=tenant.headers("agent")).json()
    assert "in transit" in before["reply"] and "out for delivery" not in before["reply"]
    assert (
        _post(client, tenant, secret, _event("out_for_delivery", "2026-11-12T07:00:00Z", "Lyon")).status_code
        == 200
    )
    after = client.post("/v1/drafts", json=body, headers=tenant.headers("agent")).json()
    assert "out for delivery" in after["reply"] and "in transit" not in after["reply"]
    assert {
        "name": "shipment_status",
        "value": "out for delivery",
        "source": "shipment of order 113-4455667-1234567",
    } in after["facts"]
