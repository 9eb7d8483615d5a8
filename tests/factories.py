"""Small builders for test data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime


def article(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "kb-tracking",
        "title": "Where is my order?",
        "body": "Track your parcel with the tracking number.",
        "locale": "en",
        "channels": [],
        "tags": ["tracking"],
        "url": "https://help.example/tracking",
    }
    base.update(overrides)
    return base


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


def load_articles(runtime: Runtime, tenant_id: str, rows: list[dict[str, Any]]) -> None:
    with runtime.session() as session:
        kb_service.import_articles(
            session,
            tenant_id=tenant_id,
            articles=[ArticleCreate.model_validate(r) for r in rows],
            file="test",
        )
    runtime.search.catch_up(tenant_id, "articles")


SHOP_ARTICLES = [
    article(),
    article(
        id="kb-returns-amazon",
        title="Returning an item bought on Amazon",
        body=(
            "Start your return from Your Orders in your Amazon account. "
            "Amazon's Returns Center issues the label."
        ),
        channels=["amazon"],
        tags=["return_label"],
    ),
    article(
        id="kb-returns-shop",
        title="Returning an item bought in our web shop",
        body="Open our returns portal, enter your order number and print the prepaid return label.",
        channels=["shopify"],
        tags=["return_label"],
    ),
    article(
        id="kb-refunds",
        title="When will I get my refund?",
        body="Refunds are issued within 5 business days after we receive your return.",
        tags=["refund_status"],
    ),
    article(
        id="kb-tracking-de",
        title="Wo ist meine Bestellung?",
        locale="de",
        body="Verfolgen Sie Ihr Paket mit der Sendungsnummer aus der Versandbestätigung.",
        tags=["tracking"],
    ),
    article(
        id="kb-fjord",
        title="Assembling the Fjord bookcase",
        body="## Tools\nYou need a screwdriver.\n\n## Steps\nAttach the side panels, then the shelves.",
        tags=["product_question"],
    ),
]
