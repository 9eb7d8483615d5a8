"""Order re-import vs carrier webhook: the shipment status with the newer status_at wins, in either order."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from history.shipments import sign

TRACKING = "1Z999AA10123456784"
ORDER: dict[str, Any] = {
    "order_id": "WEB-7781",
    "channel": "web",
    "placed_at": "2026-11-10T09:00:00Z",
    "status": "shipped",
    "customer": {"email": "sam@example.com", "name": "Sam Doe"},
    "items": [{"sku": "MUG-2", "title": "Stoneware mug", "qty": 2, "price": 14.0}],
    "shipment": {
        "carrier": "UPS",
        "tracking_number": TRACKING,
        "status": "in_transit",
        "status_at": "2026-11-11T08:00:00Z",
        "eta": "2026-11-14",
    },
}


def _order(**shipment: Any) -> dict[str, Any]:
    order = copy.deepcopy(ORDER)
    order["shipment"].update(shipment)
    return order


@pytest.fixture
def secret(client: TestClient, tenant: Any) -> str:
    response = client.post("/v1/shipments/webhook-secret", headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def _import(client: TestClient, tenant: Any, order: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/orders/import", json=[order], headers=tenant.headers("admin"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _webhook(client: TestClient, tenant: Any, secret: str, status: str, at: str, location: str) -> str:
    body = json.dumps(
        {"tracking_number": TRACKING, "status": status, "occurred_at": at, "location": location}
    ).encode()
    response = client.post(
        "/v1/shipments/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Deflect-Tenant": tenant.tenant_id,
            "X-Deflect-Signature": sign(secret, body),
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["outcome"])


def _shipment(client: TestClient, tenant: Any) -> dict[str, Any]:
    history = client.get("/v1/customers/1/history", headers=tenant.headers("agent")).json()
    shipments = [e for e in history["events"] if e["kind"] == "shipment"]
    assert len(shipments) == 1, shipments
    return {**shipments[0]["data"], "at": shipments[0]["at"]}


def test_reimport_with_an_older_status_keeps_the_webhooks_newer_one(
    client: TestClient, tenant: Any, secret: str
) -> None:
    _import(client, tenant, ORDER)
    assert _webhook(client, tenant, secret, "delivered", "2026-11-13T15:00:00Z", "Leeds") == "applied"
    # The shop's nightly export still says in_transit (as of the 11th), and the order itself changed.
    report = _import(client, tenant, {**_order(eta="2026-11-15"), "status": "completed"})
    assert report["updated"] == 1
    shipment = _shipment(client, tenant)
    assert (shipment["status"], shipment["location"]) == ("delivered", "Leeds")
    assert shipment["at"].startswith("2026-11-13T15:00:00")
    assert shipment["eta"].startswith("2026-11-15")  # fields the carrier does not send follow the import
    # A re-import that gives no status time cannot claim to be newer either.
    _import(client, tenant, {**_order(status="label_created", status_at=None), "status": "open"})
    assert _shipment(client, tenant)["status"] == "delivered"


DELIVERED = {"status": "delivered", "status_at": "2026-11-13T16:00:00Z", "location": "Front door"}


def test_reimport_with_a_newer_status_overrides_the_webhook(
    client: TestClient, tenant: Any, secret: str
) -> None:
    _import(client, tenant, ORDER)
    assert _webhook(client, tenant, secret, "out_for_delivery", "2026-11-13T07:00:00Z", "Leeds") == "applied"
    _import(client, tenant, _order(**DELIVERED))
    shipment = _shipment(client, tenant)
    assert (shipment["status"], shipment["location"]) == ("delivered", "Front door")


def test_a_late_webhook_event_does_not_undo_a_newer_imported_status(
    client: TestClient, tenant: Any, secret: str
) -> None:
    _import(client, tenant, _order(**DELIVERED))
    assert _webhook(client, tenant, secret, "out_for_delivery", "2026-11-13T07:00:00Z", "Leeds") == "stale"
    assert _shipment(client, tenant)["status"] == "delivered"
    # ...and a later one still moves it on.
    assert _webhook(client, tenant, secret, "returned", "2026-11-20T10:00:00Z", "Leeds") == "applied"
    assert _shipment(client, tenant)["status"] == "returned"


def test_a_new_tracking_number_in_the_import_replaces_the_shipment(
    client: TestClient, tenant: Any, secret: str
) -> None:
    _import(client, tenant, ORDER)
    assert _webhook(client, tenant, secret, "exception", "2026-11-13T07:00:00Z", "Leeds depot") == "applied"
    # The seller re-shipped with a new parcel: its (older-dated) label status is the one that counts.
    _import(
        client,
        tenant,
        _order(
            tracking_number="1Z999AA10123456999", status="label_created", status_at="2026-11-12T09:00:00Z"
        ),
    )
    shipment = _shipment(client, tenant)
    assert (shipment["tracking_number"], shipment["status"]) == ("1Z999AA10123456999", "label_created")
