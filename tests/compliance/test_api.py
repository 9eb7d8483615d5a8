"""POST /v1/compliance/check: wiring, auth and validation only; behaviour is tested on the service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import TenantKeys


def test_check_returns_violations_and_fixed_text(client: TestClient, tenant: TenantKeys) -> None:
    response = client.post(
        "/v1/compliance/check",
        json={"text": "Write to help@shop.example 😊", "channel": "amazon"},
        headers=tenant.headers("agent"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["channel"] == "amazon" and body["passed"] is False and body["blocking"] is False
    assert {v["rule"] for v in body["violations"]} == {"email_address", "off_platform", "emoji"}
    assert body["fixed_text"] == "Write via Buyer-Seller Messaging"


def test_check_needs_an_agent_key(client: TestClient, tenant: TenantKeys) -> None:
    body = {"text": "hello", "channel": "amazon"}
    assert client.post("/v1/compliance/check", json=body).status_code == 401
    assert client.post("/v1/compliance/check", json=body, headers=tenant.headers("public")).status_code == 403


def test_check_rejects_bad_bodies(client: TestClient, tenant: TenantKeys) -> None:
    headers = tenant.headers("agent")
    for body in (
        {"text": "", "channel": "amazon"},
        {"text": "   ", "channel": "amazon"},
        {"text": "hi", "channel": "etsy"},
        {"text": "x" * 20_001, "channel": "amazon"},
    ):
        assert client.post("/v1/compliance/check", json=body, headers=headers).status_code == 422, body
