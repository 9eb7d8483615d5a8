"""Orders in the unified history, created through the history service as an import would."""

from __future__ import annotations

from typing import Any

import pytest

from history import service as history_service
from history.schemas import OrderCreate
from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime

ORDERS: list[dict[str, Any]] = [
    {
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
        "currency": "EUR",
        "shipment": {
            "carrier": "DHL",
            "tracking_number": "00340434190012877645",
            "status": "in_transit",
            "eta": "2026-11-27",
        },
    },
    {
        "order_id": "113-9999999-7654321",
        "channel": "amazon",
        "placed_at": "2026-11-01T09:00:00Z",
        "status": "delivered",
        "customer": {
            "email": "jane@marketplace.amazon.com",
            "name": "Jane Doe",
            "marketplace_customer_id": "A1JANE",
        },
        "items": [{"sku": "KTL-1", "title": "Cove kettle", "qty": 1, "price": 45.0}],
        "currency": "EUR",
        "shipment": {"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "status": "delivered"},
        "refund": {"refund_id": "AMZ-R-77", "status": "issued", "amount": 45.0},
    },
    {
        "order_id": "#1001",
        "channel": "shopify",
        "placed_at": "2026-11-20T09:00:00Z",
        "status": "processing",
        "customer": {"email": "max@example.de", "name": "Max Muster"},
        "items": [{"sku": "STL-1", "title": "Alto bar stool", "qty": 2, "price": 89.0}],
        "currency": "EUR",
    },
]

ARTICLES: list[dict[str, Any]] = [
    {
        "id": "kb-tracking",
        "title": "Where is my order?",
        "body": "Tracking numbers are shown in your account.",
        "locale": "en",
        "tags": ["tracking"],
    },
    {
        "id": "kb-returns-amazon",
        "title": "Returning an item bought on Amazon",
        "body": "Use Amazon's Online Returns Center.",
        "locale": "en",
        "channels": ["amazon"],
        "tags": ["return_label"],
    },
    {
        "id": "kb-invoice-amazon",
        "title": "Invoices on Amazon",
        "body": "Invoices are in Your Orders.",
        "locale": "en",
        "channels": ["amazon"],
        "tags": ["invoice"],
    },
    {
        "id": "kb-assembly-alto-stool",
        "title": "Assembling the Alto bar stool",
        "body": (
            "Attach the four legs to the seat with the 8 bolts, "
            "then tighten each bolt a quarter turn after a week."
        ),
        "locale": "en",
        "tags": ["product_question"],
        "url": "https://help.example.com/alto",
    },
]


@pytest.fixture
def shop(runtime: Runtime, tenant: Any) -> str:
    """The tenant with three orders for two customers and four articles."""
    with runtime.session() as session:
        for order in ORDERS:
            history_service.upsert_order(
                session, tenant_id=tenant.tenant_id, order_in=OrderCreate.model_validate(order)
            )
        for article in ARTICLES:
            kb_service.upsert(
                session, tenant_id=tenant.tenant_id, article_in=ArticleCreate.model_validate(article)
            )
    return str(tenant.tenant_id)
