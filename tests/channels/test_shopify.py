"""Shopify webhooks (HMAC accept and reject, idempotent, order-independent) and the export backfill."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from channels import shopify
from channels.schemas import ShopifyStoreCreate
from core.errors import ImportFileError
from history.service import get_order
from runtime import Runtime
from tests.conftest import TenantKeys

SHOP = "velo-atelier.myshopify.com"
SECRET = "shpss_test_secret_0123456789"

ORDER = {
    "id": 820982911946154500,
    "name": "#1042",
    "email": "claire.dubois@example.fr",
    "created_at": "2026-11-10T10:00:00+01:00",
    "updated_at": "2026-11-10T10:00:00+01:00",
    "cancelled_at": None,
    "currency": "EUR",
    "financial_status": "paid",
    "fulfillment_status": None,
    "customer": {
        "id": 115310627314723950,
        "email": "claire.dubois@example.fr",
        "first_name": "Claire",
        "last_name": "Dubois",
    },
    "shipping_address": {
        "name": "Claire Dubois",
        "address1": "14 rue des Tanneurs",
        "zip": "69001",
        "city": "Lyon",
        "country": "France",
    },
    "line_items": [{"sku": "VA-CHAIN-11", "title": "Chaîne 11 vitesses", "quantity": 2, "price": "34.90"}],
}
UPDATED = {**ORDER, "updated_at": "2026-11-11T09:00:00+01:00", "fulfillment_status": "fulfilled"}
FULFILLMENT = {
    "id": 255858046,
    "order_id": ORDER["id"],
    "status": "success",
    "shipment_status": "in_transit",
    "tracking_company": "Colissimo",
    "tracking_number": "6A12345678901",
    "created_at": "2026-11-11T09:00:00+01:00",
    "updated_at": "2026-11-11T09:00:00+01:00",
}
REFUND = {
    "id": 509562969,
    "order_id": ORDER["id"],
    "created_at": "2026-11-14T12:00:00+01:00",
    "processed_at": "2026-11-14T12:00:00+01:00",
    "transactions": [{"kind": "refund", "status": "success", "amount": "34.90"}],
}
EVENTS = [
    ("orders/create", "wh-1", ORDER),
    ("orders/updated", "wh-2", UPDATED),
    ("fulfillments/create", "wh-3", FULFILLMENT),
    ("refunds/create", "wh-4", REFUND),
]


@pytest.fixture
def shop(runtime: Runtime, tenant: TenantKeys) -> str:
    with runtime.session() as session:
        shopify.connect_store(
            session,
            runtime.settings,
            tenant_id=tenant.tenant_id,
            store_in=ShopifyStoreCreate(shop_domain=SHOP, secret=SECRET),  # type: ignore[arg-type]
            actor="test",
        )
    return SHOP


def _post(
    client: TestClient, topic: str, webhook_id: str, payload: dict[str, Any], secret: str = SECRET
) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        "/v1/channels/shopify/webhooks",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Hmac-Sha256": shopify.sign(secret, body),
        },
    )


def _order_state(runtime: Runtime, tenant_id: str) -> dict[str, Any]:
    with runtime.session() as session:
        order = get_order(session, tenant_id=tenant_id, order_id="#1042")
        assert order is not None
        return {
            "status": order.status,
            "channel": order.channel,
            "items": [(i.sku, i.qty, i.price) for i in order.items],
            "shipments": [(s.carrier, s.tracking_number, s.status) for s in order.shipments],
            "refunds": [(r.refund_id, r.status, r.amount) for r in order.refunds],
            "customer": order.customer_id,
            "contact": order.contact.get("email"),
        }


def test_a_signed_webhook_is_applied_and_a_forged_one_is_rejected(
    client: TestClient, runtime: Runtime, tenant: TenantKeys, shop: str
) -> None:
    forged = _post(client, "orders/create", "wh-1", ORDER, secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "unauthorized"
    unsigned = client.post(
        "/v1/channels/shopify/webhooks",
        content=b"{}",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": "x",
        },
    )
    assert unsigned.status_code == 401
    # A body changed after signing fails as well.
    body = json.dumps(ORDER).encode()
    tampered = client.post(
        "/v1/channels/shopify/webhooks",
        content=body.replace(b"34.90", b"0.01"),
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": "wh-1",
            "X-Shopify-Hmac-Sha256": shopify.sign(SECRET, body),
        },
    )
    assert tampered.status_code == 401

    accepted = _post(client, "orders/create", "wh-1", ORDER)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "topic": "orders/create",
        "webhook_id": "wh-1",
        "outcome": "applied",
        "order_id": "#1042",
    }
    assert _post(client, "orders/create", "wh-1", ORDER).json()["outcome"] == "duplicate"
    state = _order_state(runtime, tenant.tenant_id)
    assert state["items"] == [("VA-CHAIN-11", 2, 34.9)] and state["status"] == "processing"
    assert state["contact"] == "claire.dubois@example.fr"


def test_any_arrival_order_ends_in_the_same_order(
    client: TestClient, runtime: Runtime, tenant: TenantKeys, shop: str
) -> None:
    finals = []
    for attempt, order in enumerate(itertools.permutations(EVENTS)):
        if attempt % 6:  # 4 of the 24 orders, including reversed and fulfillment-first ones
            continue
        with runtime.session() as session:
            from sqlalchemy import delete

            from channels.models import ShopifyOrderState, ShopifyWebhook
            from history.models import Order

            for model in (ShopifyWebhook, ShopifyOrderState, Order):
                session.execute(delete(model))
        outcomes = [
            _post(client, topic, f"{hook}-{attempt}", payload).json()["outcome"]
            for topic, hook, payload in order
        ]
        first_order_event = next(i for i, (topic, _, _) in enumerate(order) if topic.startswith("orders/"))
        assert all(o == "stored" for o in outcomes[:first_order_event])
        finals.append(_order_state(runtime, tenant.tenant_id))
    assert len(finals) == 4
    assert all(final == finals[0] | {"customer": final["customer"]} for final in finals)
    assert finals[0]["status"] == "shipped"
    assert finals[0]["shipments"] == [("Colissimo", "6A12345678901", "in_transit")]
    assert finals[0]["refunds"] == [("509562969", "issued", 34.9)]


def test_an_unknown_shop_and_an_unsupported_topic_are_refused(client: TestClient, shop: str) -> None:
    body = json.dumps(ORDER).encode()
    unknown = client.post(
        "/v1/channels/shopify/webhooks",
        content=body,
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "other.myshopify.com",
            "X-Shopify-Webhook-Id": "wh",
            "X-Shopify-Hmac-Sha256": shopify.sign(SECRET, body),
        },
    )
    assert unknown.status_code == 401
    assert _post(client, "products/create", "wh-p", {"id": 1}).status_code == 422


def test_the_admin_connects_a_shop_with_its_secret_from_the_environment(
    client: TestClient, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", SECRET)
    connected = client.put(
        "/v1/channels/shopify",
        json={"shop_domain": SHOP, "secret_env": "SHOPIFY_WEBHOOK_SECRET"},
        headers=tenant.headers("admin"),
    )
    assert connected.status_code == 200 and connected.json()["secret"] == "env:SHOPIFY_WEBHOOK_SECRET"
    assert _post(client, "orders/create", "wh-env", ORDER).json()["outcome"] == "applied"


def test_an_export_backfills_orders_idempotently(
    runtime: Runtime, tenant: TenantKeys, tmp_path: Path
) -> None:
    exported = {**UPDATED, "fulfillments": [FULFILLMENT], "refunds": [REFUND]}
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [exported]}))
    with runtime.session() as session:
        report = shopify.backfill(
            session, tenant_id=tenant.tenant_id, orders=shopify.read_export(path), file=str(path)
        )
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0)
    with runtime.session() as session:
        again = shopify.backfill(
            session, tenant_id=tenant.tenant_id, orders=shopify.read_export(path), file=str(path)
        )
    assert again.unchanged == 1
    state = _order_state(runtime, tenant.tenant_id)
    assert (
        state["shipments"] == [("Colissimo", "6A12345678901", "in_transit")] and state["status"] == "shipped"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(ORDER) + "\n{not json\n" + json.dumps({"id": 5}) + "\n")
    with pytest.raises(ImportFileError) as error:
        shopify.read_export(bad)
    assert [e.line for e in error.value.errors] == [2, 3]
