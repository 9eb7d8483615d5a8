"""Shopify order webhooks and export backfill into the unified order history.

Shopify signs each webhook body with HMAC-SHA256 under the app's client secret and sends it base64 in
X-Shopify-Hmac-Sha256; the shop is named in X-Shopify-Shop-Domain and each delivery carries an id in
X-Shopify-Webhook-Id (the same on a retry). Webhooks may arrive twice, late or out of order, so nothing
is applied in arrival order: the newest version (by `updated_at`) of the order and of each fulfillment
and refund is kept per order, and the history's order is rebuilt from that state each time. Any
arrival order of the same set of webhooks ends in the same order record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels import secrets
from channels.models import ShopifyOrderState, ShopifyStore, ShopifyWebhook
from channels.schemas import ShopifyStoreCreate, ShopifyStoreRead, ShopifyWebhookResult
from core.errors import ConflictError, ImportFileError, InvalidInputError, LineError, UnauthorizedError
from core.schemas import ImportReport
from core.settings import Settings
from history.identity import canonical_order_id
from history.schemas import ContactIn, OrderCreate, OrderItemIn, RefundIn, ShipmentIn
from history.service import upsert_order

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
SHOP_HEADER = "X-Shopify-Shop-Domain"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/fulfilled", "orders/cancelled")
FULFILLMENT_TOPICS = ("fulfillments/create", "fulfillments/update")
REFUND_TOPICS = ("refunds/create",)
TOPICS = ORDER_TOPICS + FULFILLMENT_TOPICS + REFUND_TOPICS

# Shopify's shipment_status of a fulfillment -> the carrier statuses the history and drafts know.
SHIPMENT_STATUS = {
    "label_printed": "label_created",
    "label_purchased": "label_created",
    "confirmed": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "attempted_delivery": "exception",
    "failure": "exception",
    "delayed": "delayed",
    "ready_for_pickup": "available_for_pickup",
    "picked_up": "delivered",
    "delivered": "delivered",
}
ORDER_FIELDS = (
    "id",
    "name",
    "email",
    "phone",
    "created_at",
    "updated_at",
    "cancelled_at",
    "currency",
    "financial_status",
    "fulfillment_status",
    "customer",
    "shipping_address",
    "line_items",
)


# -- configuration ------------------------------------------------------------------------------


def connect_store(
    session: Session, settings: Settings, *, tenant_id: str, store_in: ShopifyStoreCreate, actor: str
) -> ShopifyStore:
    """Registers (or re-keys) the tenant's shop; a shop belongs to one tenant."""
    store = session.scalar(select(ShopifyStore).where(ShopifyStore.shop_domain == store_in.shop_domain))
    if store is not None and store.tenant_id != tenant_id:
        raise ConflictError(f"shop {store_in.shop_domain} is connected to another tenant")
    if store is None:
        store = ShopifyStore(tenant_id=tenant_id, shop_domain=store_in.shop_domain)
        session.add(store)
    if store_in.secret is not None:
        store.secret_ciphertext = secrets.encrypt(settings, store_in.secret.get_secret_value())
        store.secret_env = None
    else:
        store.secret_env = secrets.check_env_name(store_in.secret_env or "")
        store.secret_ciphertext = None
    store.created_by = actor
    session.flush()
    return store


def store_read(store: ShopifyStore) -> ShopifyStoreRead:
    return ShopifyStoreRead(
        shop_domain=store.shop_domain,
        secret=f"env:{store.secret_env}" if store.secret_env else "encrypted",
        created_at=store.created_at,
    )


def list_stores(session: Session, *, tenant_id: str) -> list[ShopifyStore]:
    return list(session.scalars(select(ShopifyStore).where(ShopifyStore.tenant_id == tenant_id)))


# -- webhooks -------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify sends for this body."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify(
    session: Session, settings: Settings, *, shop_domain: str | None, body: bytes, signature: str | None
) -> str:
    """The tenant of the shop when the body's HMAC matches its secret; UnauthorizedError otherwise (one
    message for every cause, so a caller learns nothing about which shops exist)."""
    failure = UnauthorizedError(f"missing or invalid {HMAC_HEADER} for the shop in {SHOP_HEADER}")
    if not shop_domain or not signature:
        raise failure
    store = session.scalar(
        select(ShopifyStore).where(ShopifyStore.shop_domain == shop_domain.strip().lower())
    )
    if store is None:
        raise failure
    secret = secrets.reveal(
        settings,
        ciphertext=store.secret_ciphertext,
        env=store.secret_env,
        what=f"secret of shop {shop_domain}",
    )
    if not hmac.compare_digest(sign(secret, body), signature.strip()):
        raise failure
    return store.tenant_id


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _newer(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether `new` supersedes `old`: a later updated_at; on a tie, the larger canonical JSON, so the
    choice never depends on which arrived first."""
    if old is None:
        return True
    floor = datetime.min.replace(tzinfo=UTC)
    new_at, old_at = _time(new.get("updated_at")) or floor, _time(old.get("updated_at")) or floor
    if new_at != old_at:
        return new_at > old_at
    return json.dumps(new, sort_keys=True) > json.dumps(old, sort_keys=True)


def _slim_order(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: payload.get(key) for key in ORDER_FIELDS if key in payload}


def _slim_fulfillment(payload: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "order_id",
        "status",
        "shipment_status",
        "tracking_company",
        "tracking_number",
        "tracking_numbers",
    )
    slim = {key: payload.get(key) for key in keys}
    slim["updated_at"] = payload.get("updated_at") or payload.get("created_at")
    return slim


def _slim_refund(payload: dict[str, Any]) -> dict[str, Any]:
    amount = 0.0
    for transaction in payload.get("transactions") or []:
        if isinstance(transaction, dict) and transaction.get("kind", "refund") == "refund":
            if transaction.get("status", "success") == "success":
                amount += _money(transaction.get("amount"))
    return {
        "id": payload.get("id"),
        "order_id": payload.get("order_id"),
        "amount": round(amount, 2),
        "updated_at": payload.get("processed_at") or payload.get("created_at"),
    }


def _money(value: object) -> float:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _state(session: Session, tenant_id: str, shopify_order_id: str) -> ShopifyOrderState:
    query = select(ShopifyOrderState).where(
        ShopifyOrderState.tenant_id == tenant_id, ShopifyOrderState.shopify_order_id == shopify_order_id
    )
    state = session.scalar(query.with_for_update())
    if state is not None:
        return state
    try:
        with session.begin_nested():
            state = ShopifyOrderState(
                tenant_id=tenant_id,
                shopify_order_id=shopify_order_id,
                order=None,
                fulfillments={},
                refunds={},
            )
            session.add(state)
    except IntegrityError:
        # Another delivery for the same order created it a moment ago.
        state = session.scalar(query.with_for_update())
        if state is None:
            raise
    return state


def _merge(
    state: ShopifyOrderState,
    *,
    order: dict[str, Any] | None,
    fulfillments: Iterable[dict[str, Any]],
    refunds: Iterable[dict[str, Any]],
) -> None:
    if order is not None and _newer(order, state.order):
        state.order = order
    kept = dict(state.fulfillments)
    for fulfillment in fulfillments:
        key = str(fulfillment.get("id"))
        if _newer(fulfillment, kept.get(key)):
            kept[key] = fulfillment
    state.fulfillments = kept
    kept_refunds = dict(state.refunds)
    for refund in refunds:
        key = str(refund.get("id"))
        if _newer(refund, kept_refunds.get(key)):
            kept_refunds[key] = refund
    state.refunds = kept_refunds


def _contact(order: dict[str, Any]) -> ContactIn:
    customer: dict[str, Any] = order["customer"] if isinstance(order.get("customer"), dict) else {}
    address: dict[str, Any] = (
        order["shipping_address"] if isinstance(order.get("shipping_address"), dict) else {}
    )
    name = " ".join(str(customer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    name = name or str(address.get("name") or "").strip()
    lines = [address.get(k) for k in ("address1", "address2", "zip", "city", "province", "country")]
    return ContactIn(
        email=(order.get("email") or customer.get("email") or None),
        name=name[:300] or None,
        phone=(order.get("phone") or customer.get("phone") or address.get("phone") or None),
        address=", ".join(str(v).strip() for v in lines if v)[:1000] or None,
    )


def _latest(items: dict[str, Any]) -> dict[str, Any] | None:
    values = [v for v in items.values() if isinstance(v, dict)]
    if not values:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(values, key=lambda v: (_time(v.get("updated_at")) or floor, str(v.get("id"))))


def order_create(state: ShopifyOrderState) -> OrderCreate:
    """The history's order from the newest known versions of the order, its fulfillments and refunds.

    The history keeps one shipment and one refund per order: the newest fulfillment and refund.
    """
    order = state.order or {}
    fulfillment = _latest(state.fulfillments)
    refund = _latest(state.refunds)
    shipment = None
    if fulfillment is not None:
        raw_status = str(fulfillment.get("shipment_status") or "")
        status = SHIPMENT_STATUS.get(raw_status) or (
            "in_transit" if fulfillment.get("status") == "success" else raw_status or "label_created"
        )
        numbers = fulfillment.get("tracking_numbers") or []
        shipment = ShipmentIn(
            carrier=str(fulfillment.get("tracking_company") or "")[:100],
            tracking_number=(fulfillment.get("tracking_number") or (numbers[0] if numbers else None)),
            status=status,
            status_at=_time(fulfillment.get("updated_at")),
        )
    if order.get("cancelled_at"):
        status = "cancelled"
    elif shipment is not None and shipment.status == "delivered":
        status = "delivered"
    elif shipment is not None or order.get("fulfillment_status") in ("fulfilled", "partial"):
        status = "shipped"
    else:
        status = "processing"
    items = [
        OrderItemIn(
            sku=str(item.get("sku") or "")[:100],
            title=str(item.get("title") or item.get("name") or "")[:500],
            qty=int(item.get("quantity") or 1),
            price=_money(item.get("price")),
        )
        for item in order.get("line_items") or []
        if isinstance(item, dict)
    ]
    return OrderCreate(
        order_id=canonical_order_id(
            str(order.get("name") or f"#{order.get('order_number') or state.shopify_order_id}")
        ),
        channel="shopify",
        customer=_contact(order),
        placed_at=_time(order.get("created_at")),
        status=status,
        items=items,
        currency=str(order.get("currency") or "EUR")[:3],
        shipment=shipment,
        refund=RefundIn(
            refund_id=str(refund["id"]), status="issued", amount=float(refund.get("amount") or 0.0)
        )
        if refund is not None
        else None,
    )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidInputError("body must be a JSON object")
    return payload


def apply_payload(session: Session, *, tenant_id: str, topic: str, payload: dict[str, Any]) -> str | None:
    """Folds one order, fulfillment or refund into its order's state and rebuilds the history's order;
    returns the order's name, or None while only a fulfillment or refund of an unseen order is known."""
    if topic in ORDER_TOPICS:
        if payload.get("id") is None:
            raise InvalidInputError("order payload without id")
        state = _state(session, tenant_id, str(payload["id"]))
        _merge(
            state,
            order=_slim_order(payload),
            fulfillments=[
                _slim_fulfillment(f) for f in payload.get("fulfillments") or [] if isinstance(f, dict)
            ],
            refunds=[_slim_refund(r) for r in payload.get("refunds") or [] if isinstance(r, dict)],
        )
    elif topic in FULFILLMENT_TOPICS or topic in REFUND_TOPICS:
        if payload.get("order_id") is None or payload.get("id") is None:
            raise InvalidInputError(f"{topic} payload without id or order_id")
        state = _state(session, tenant_id, str(payload["order_id"]))
        if topic in FULFILLMENT_TOPICS:
            _merge(state, order=None, fulfillments=[_slim_fulfillment(payload)], refunds=[])
        else:
            _merge(state, order=None, fulfillments=[], refunds=[_slim_refund(payload)])
    else:
        raise InvalidInputError(f"unsupported topic {topic!r}; subscribe to: {', '.join(TOPICS)}")
    session.flush()
    if state.order is None:
        return None
    order_in = _order_in(state)
    upsert_order(session, tenant_id=tenant_id, order_in=order_in)
    return order_in.order_id


def _order_in(state: ShopifyOrderState) -> OrderCreate:
    try:
        return order_create(state)
    except ValidationError as exc:
        raise InvalidInputError(
            f"Shopify order {state.shopify_order_id} does not fit the order history",
            details=json.loads(exc.json(include_input=False)),
        ) from exc


def receive_webhook(
    session: Session,
    settings: Settings,
    *,
    shop_domain: str | None,
    topic: str | None,
    webhook_id: str | None,
    signature: str | None,
    body: bytes,
) -> ShopifyWebhookResult:
    """Verifies, de-duplicates by webhook id and applies one Shopify webhook."""
    tenant_id = verify(session, settings, shop_domain=shop_domain, body=body, signature=signature)
    if not topic or not webhook_id:
        raise InvalidInputError(f"{TOPIC_HEADER} and {WEBHOOK_ID_HEADER} are required")
    webhook_id = webhook_id.strip()[:100]
    known = session.scalar(
        select(ShopifyWebhook).where(
            ShopifyWebhook.tenant_id == tenant_id, ShopifyWebhook.webhook_id == webhook_id
        )
    )
    if known is not None:
        return ShopifyWebhookResult(
            topic=known.topic, webhook_id=webhook_id, outcome="duplicate", order_id=None
        )
    payload = _parse(body)
    order_name = apply_payload(session, tenant_id=tenant_id, topic=topic, payload=payload)
    shopify_order_id = str(payload.get("order_id") if topic not in ORDER_TOPICS else payload.get("id"))
    outcome = "applied" if order_name else "stored"
    try:
        with session.begin_nested():
            session.add(
                ShopifyWebhook(
                    tenant_id=tenant_id,
                    webhook_id=webhook_id,
                    topic=topic,
                    shopify_order_id=shopify_order_id,
                    outcome=outcome,
                )
            )
    except IntegrityError:
        # The same delivery, retried while the first was still being applied: its state is the same.
        outcome = "duplicate"
    return ShopifyWebhookResult(topic=topic, webhook_id=webhook_id, outcome=outcome, order_id=order_name)


# -- backfill ---------------------------------------------------------------------------------------


def read_export(path: Path) -> list[dict[str, Any]]:
    """Orders of a Shopify export in the Admin API's order JSON: {"orders": [...]}, a JSON list, or one
    order per line (JSONL). The whole file is checked before anything is written."""
    text = path.read_text(encoding="utf-8")
    errors: list[LineError] = []
    orders: list[Any]
    try:
        document = json.loads(text)
        orders = document.get("orders", []) if isinstance(document, dict) else document
        if not isinstance(orders, list):
            raise InvalidInputError(f"{path}: expected an object with 'orders' or a list of orders")
        numbered = list(enumerate(orders, start=1))
    except json.JSONDecodeError:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(LineError(str(path), number, f"not JSON: {exc.msg}"))
    result = []
    for number, order in numbered:
        if not isinstance(order, dict) or order.get("id") is None or not order.get("name"):
            errors.append(LineError(str(path), number, "not a Shopify order (needs id and name)"))
            continue
        result.append(order)
    if errors:
        raise ImportFileError(errors)
    return result


def backfill(session: Session, *, tenant_id: str, orders: list[dict[str, Any]], file: str) -> ImportReport:
    """Folds exported orders (with their fulfillments and refunds) in as webhooks would; idempotent."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for payload in orders:
        state = _state(session, tenant_id, str(payload["id"]))
        _merge(
            state,
            order=_slim_order(payload),
            fulfillments=[
                _slim_fulfillment(f) for f in payload.get("fulfillments") or [] if isinstance(f, dict)
            ],
            refunds=[_slim_refund(r) for r in payload.get("refunds") or [] if isinstance(r, dict)],
        )
        session.flush()
        _, outcome = upsert_order(session, tenant_id=tenant_id, order_in=_order_in(state))
        counts[outcome] += 1
    return ImportReport(file=file, **counts)
