"""Per question of a ticket: the answering articles and the highlighted sentence."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from runtime import Runtime
from tests.factories import SHOP_ARTICLES, article, load_articles
from tests.insights.helpers import load, ticket

RETURNS_BODY = (
    "Returns are free within 30 days.\n\n## How to return\n\nStart your return from Your Orders in your "
    "Amazon account. Amazon's Returns Center issues the prepaid return label."
)


def test_each_question_gets_its_articles_with_the_answering_sentence(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    rows = [a for a in SHOP_ARTICLES if a["id"] != "kb-returns-amazon"]
    rows.append(
        article(
            id="kb-returns-amazon",
            title="Returning an item bought on Amazon",
            body=RETURNS_BODY,
            channels=["amazon"],
            tags=["return_label"],
        )
    )
    load_articles(runtime, tenant.tenant_id, rows)
    text = "Where is my parcel? I also want to return the lamp, how do I get a return label?"
    load(
        runtime,
        tenant.tenant_id,
        tickets=[ticket("t-9", "ann@example.com", [], "2026-11-20T09:00:00Z", body=text)],
    )
    response = client.get("/v1/tickets/t-9/suggested-articles", headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ticket_text"] == text and result["channel"] == "amazon"
    tracking, returns = result["questions"]
    assert (tracking["topic"], tracking["spans"]) == ("tracking", [[0, 19]])
    assert text[19:].strip().startswith("I also want") and returns["topic"] == "return_label"
    assert tracking["articles"][0]["id"] == "kb-tracking"
    best = returns["articles"][0]
    # Only articles tagged with the question's reason, the Amazon one first, none scoped to shopify.
    assert [a["id"] for a in returns["articles"]][:1] == ["kb-returns-amazon"]
    assert "kb-returns-shop" not in [a["id"] for a in returns["articles"]]
    start, end = best["highlight"]
    assert best["passage"][start:end] == "Amazon's Returns Center issues the prepaid return label."
    assert RETURNS_BODY[best["passage_start"] :].startswith(best["passage"])
    assert (
        client.get("/v1/tickets/nope/suggested-articles", headers=tenant.headers("agent")).status_code == 404
    )
    assert (
        client.get("/v1/tickets/t-9/suggested-articles", headers=tenant.headers("public")).status_code == 403
    )
