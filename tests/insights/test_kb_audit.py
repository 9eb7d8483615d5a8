"""KB compliance audit over marketplace-scoped articles, and the Amazon publishing gate with overrides."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from compliance.service import check
from insights import audit
from kb import service as kb_service
from kb.models import PublishOverride
from runtime import Runtime
from tests.conftest import DEMO

PROMO = {
    "id": "kb-promo",
    "title": "Caring for your skillet",
    "locale": "en",
    "channels": ["amazon"],
    "tags": ["product_question"],
    "body": "Oil it after each wash. Get 15% off your next order at hearthandharbor.example with code CARE15",
}
FACTUAL = {
    "id": "kb-care",
    "title": "Caring for your skillet",
    "locale": "en",
    "channels": ["amazon", "ebay"],
    "tags": ["product_question"],
    "body": "Wash by hand, dry at once and rub in a thin layer of oil.",
}


def test_audit_of_the_demo_kb_catches_the_promotional_amazon_article(runtime: Runtime, tenant: Any) -> None:
    with runtime.session() as session:
        kb_service.import_path(session, tenant_id=tenant.tenant_id, path=DEMO / "articles.jsonl")
        report = audit.audit(session, tenant_id=tenant.tenant_id)
    assert report.articles_checked > 0 and report.checks >= report.articles_checked
    failing = [r for r in report.results if not r.passed]
    # Exactly one demo article is promotional on purpose; every other marketplace article passes.
    assert [(r.article_id, r.channel) for r in failing] == [("kb-amazon-care-promo", "amazon")]
    promo = report.results[0]
    assert promo.article_id == "kb-amazon-care-promo" and promo.blocking and report.blocking == 1
    rules = {v.rule for v in promo.violations}
    assert {"promotion", "external_link", "review_manipulation"} <= rules
    assert any(v.text == "15% off" for v in promo.violations)


@pytest.mark.parametrize("channel", ["amazon", "ebay", "walmart"])
def test_el_punto_de_recogida_is_not_an_obfuscated_domain(channel: str) -> None:
    # Once flagged as "punto" = "dot"; a real disguised domain must still be caught.
    line = next(
        row
        for row in (DEMO / "articles.jsonl").read_text(encoding="utf-8").splitlines()
        if '"kb-tracking-es"' in row
    )
    assert "el punto de recogida" in line
    assert check(
        "Revisa el buzón o el punto de recogida que figure en el seguimiento.", channel=channel, locale="es"
    ).passed
    caught = check("Escríbenos en hearthandharbor punto com", channel=channel, locale="es")
    assert [v.rule for v in caught.violations if v.rule == "external_link"] == ["external_link"]


def test_publishing_a_blocking_amazon_article_needs_an_admin_override(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    admin = tenant.headers("admin")
    refused = client.post("/v1/articles", json=PROMO, headers=admin)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert "amazon" in error["message"] and {d["rule"] for d in error["details"]} >= {
        "promotion",
        "external_link",
    }
    assert client.get("/v1/articles/kb-promo", headers=tenant.headers("public")).status_code == 404
    assert client.post("/v1/articles/import", json=[FACTUAL, PROMO], headers=admin).status_code == 422
    assert (
        client.get("/v1/articles/kb-care", headers=tenant.headers("public")).status_code == 404
    )  # all or nothing

    ok = client.post("/v1/articles", json=FACTUAL, headers=admin)
    assert ok.status_code == 201
    patched = client.patch("/v1/articles/kb-care", json={"body": PROMO["body"]}, headers=admin)
    assert patched.status_code == 422
    assert client.get("/v1/articles/kb-care", headers=admin).json()["body"] == FACTUAL["body"]

    reason = "approved by legal for the Prime Day page"
    forced = client.post("/v1/articles", json=PROMO, params={"override_reason": reason}, headers=admin)
    assert forced.status_code == 201
    with runtime.session() as session:
        rows = session.query(PublishOverride).all()
        assert [(r.article_id, r.channel, r.reason) for r in rows] == [("kb-promo", "amazon", reason)]
        assert (
            rows[0].actor.startswith("admin-key:")
            and {"rule": "promotion", "text": "15% off"} in rows[0].violations
        )
    shown = client.get(
        "/v1/reports/kb-audit", params={"only_failing": "true"}, headers=tenant.headers("agent")
    )
    assert shown.status_code == 200, shown.text
    result = shown.json()["results"]
    assert [r["article_id"] for r in result] == ["kb-promo"] and result[0]["override"]["reason"] == reason


def test_ebay_articles_are_audited_but_not_gated(client: TestClient, tenant: Any) -> None:
    ebay_promo = {**PROMO, "id": "kb-promo-ebay", "channels": ["ebay"]}
    assert client.post("/v1/articles", json=ebay_promo, headers=tenant.headers("admin")).status_code == 201
    report = client.get("/v1/reports/kb-audit", headers=tenant.headers("agent")).json()
    assert [(r["article_id"], r["channel"], r["passed"]) for r in report["results"]] == [
        ("kb-promo-ebay", "ebay", False)
    ]
