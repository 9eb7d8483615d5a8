from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from history.models import Ticket
from runtime import Runtime


def test_draft_endpoint_needs_agent_key_and_returns_coverage(
    client: TestClient, tenant: Any, shop: str
) -> None:
    body = {
        "text": "Where is order 113-4455667-1234567? And I need an invoice.",
        "channel": "amazon",
        "locale": "en",
    }
    assert client.post("/v1/drafts", json=body, headers=tenant.headers("public")).status_code == 403
    response = client.post("/v1/drafts", json=body, headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    draft = response.json()
    assert [q["topic"] for q in draft["questions"]] == ["tracking", "invoice"]
    assert draft["compliance"]["channel"] == "amazon" and draft["fact_check"]["passed"]
    assert {"key": "tracking", "channel": "*", "locale": "en", "version": 1} in draft["macros"]


def test_draft_endpoint_rejects_bad_input(client: TestClient, tenant: Any) -> None:
    headers = tenant.headers("agent")
    assert client.post("/v1/drafts", json={"text": "hi"}, headers=headers).status_code == 422
    missing = client.post("/v1/drafts", json={"ticket_id": "nope"}, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_only_admin_changes_macros_and_old_drafts_keep_their_version(
    client: TestClient,
    tenant: Any,
    shop: str,
    runtime: Runtime,
) -> None:
    body = {"text": "Please send the invoice for 113-4455667-1234567.", "channel": "amazon", "locale": "en"}
    first = client.post("/v1/drafts", json=body, headers=tenant.headers("agent")).json()
    change = {"body": "Your invoice for {{ order_id }} is in Your Orders on Amazon.", "note": "shorter"}
    url = "/v1/macros/invoice/amazon/en"
    assert client.put(url, json=change, headers=tenant.headers("agent")).status_code == 403
    saved = client.put(url, json=change, headers=tenant.headers("admin"))
    assert saved.status_code == 201 and saved.json()["version"] == 2
    escape = client.put(
        url, json={"body": "{{ order_id.__class__.__mro__ }}"}, headers=tenant.headers("admin")
    )
    assert escape.status_code == 422
    detail = client.get(url, headers=tenant.headers("agent")).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2] and detail["version"] == 2
    second = client.post("/v1/drafts", json=body, headers=tenant.headers("agent")).json()
    invoice_version = {
        d["id"]: next(m["version"] for m in d["macros"] if m["key"] == "invoice") for d in (first, second)
    }
    assert invoice_version == {first["id"]: 1, second["id"]: 2}
    assert "Your invoice for 113-4455667-1234567 is in Your Orders on Amazon." in second["reply"]
    listing = client.get("/v1/macros?key=invoice&locale=en", headers=tenant.headers("agent")).json()
    assert {(m["channel"], m["version"]) for m in listing["items"]} == {("*", 1), ("amazon", 2)}


def test_macro_report_counts_usage_and_first_contact_resolution(
    client: TestClient,
    tenant: Any,
    shop: str,
    runtime: Runtime,
) -> None:
    from history.service import get_order

    headers = tenant.headers("agent")
    with runtime.session() as session:
        order = get_order(session, tenant_id=shop, order_id="113-4455667-1234567")
        assert order is not None
        customer_id = order.customer_id
        now = datetime.now(UTC)
        for external_id, created, tags, seconds in [
            ("t-1", now - timedelta(days=3), ["tracking", "invoice"], 300.0),
            ("t-2", now - timedelta(days=1), ["tracking"], 120.0),  # came back about tracking within 7 days
        ]:
            session.add(
                Ticket(
                    tenant_id=shop,
                    external_id=external_id,
                    channel="amazon",
                    customer_id=customer_id,
                    body="b",
                    tags=tags,
                    created_at=created,
                    handling_seconds=seconds,
                    content_hash="h",
                )
            )
    text = "Where is order 113-4455667-1234567? And I need an invoice."
    assert (
        client.post(
            "/v1/drafts", json={"ticket_id": "t-1", "text": text, "channel": "amazon"}, headers=headers
        ).status_code
        == 200
    )
    report = client.get("/v1/reports/macros", headers=headers)
    assert report.status_code == 200, report.text
    data = report.json()
    macros = {m["key"]: m for m in data["macros"]}
    assert macros["tracking"]["uses"] == 1 and macros["tracking"]["fcr_rate"] == 0.0
    assert macros["invoice"]["fcr_rate"] == 1.0
    tags = {t["tag"]: t for t in data["tags"]}
    assert (
        tags["tracking"]["avg_handling_seconds"] == 210.0 and tags["invoice"]["avg_handling_seconds"] == 300.0
    )
    assert client.get("/v1/reports/macros", headers=tenant.headers("public")).status_code == 403
