"""The contact form's "I still need help": the ticket keeps where the order was bought and its gist."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kb.contact_form import ticket_subject
from tests.conftest import TenantKeys

MESSAGE = "My parcel still has not arrived and the tracking has not moved for five days. Where is it?"


def _submit(client: TestClient, tenant: TenantKeys, **overrides: object) -> object:
    body = {
        "submission_id": "sub-12345678",
        "session_id": "s-12345678",
        "topic": "tracking",
        "message": MESSAGE,
        "email": "emily.carter@example.com",
        "channel": "amazon",
        "order_id": "#1044",
        "locale": "en",
    }
    return client.post(
        "/v1/contact-form/submit", json={**body, **overrides}, headers=tenant.headers("public")
    )


def test_ticket_keeps_the_purchase_channel_and_a_meaningful_subject(
    client: TestClient, tenant: TenantKeys
) -> None:
    first = _submit(client, tenant)
    assert first.status_code == 201, first.text
    ticket_id = first.json()["ticket_id"]
    ticket = client.get(f"/v1/tickets/{ticket_id}", headers=tenant.headers("agent")).json()
    assert ticket["channel"] == "amazon" and ticket["id"].startswith("web-")
    assert ticket["subject"] == (
        "Where is my order? · order #1044 · "
        "My parcel still has not arrived and the tracking has not moved for five days."
    )
    assert ticket["tags"] == ["tracking"] and ticket["order_id"] == "#1044"
    again = _submit(client, tenant)
    assert again.json() == {**first.json(), "outcome": "unchanged"}
    web = _submit(
        client, tenant, submission_id="sub-87654321", channel=None, order_id=None, message="Hi, where is it?"
    )
    shop_ticket = client.get(f"/v1/tickets/{web.json()['ticket_id']}", headers=tenant.headers("agent")).json()
    assert (
        shop_ticket["channel"] == "web" and shop_ticket["subject"] == "Where is my order? · Hi, where is it?"
    )


def test_each_bad_field_is_named_in_the_error(client: TestClient, tenant: TenantKeys) -> None:
    for field, value in (("email", "emily.carter@"), ("email", "emily@@example.com"), ("message", "hi")):
        response = _submit(client, tenant, **{field: value})
        assert response.status_code == 422
        assert [d["loc"] for d in response.json()["error"]["details"]] == [["body", field]], (field, value)


def test_subject_is_short_for_long_messages_and_whole_for_short_ones() -> None:
    assert ticket_subject("refund", "Refund please.\nI sent it back.", None) == "My refund · Refund please."
    long_subject = ticket_subject("other", "word " * 100, "A-1")
    assert long_subject.startswith("Something else · order A-1 · word word") and long_subject.endswith("…")
    assert len(long_subject) < 120
