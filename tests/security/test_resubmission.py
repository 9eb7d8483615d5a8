"""A public contact-form resubmission may add to its ticket, never replace it, never change its contact."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import TenantKeys

FIRST = "My lamp arrived with a cracked shade, what can I do?"


def _submit(client: TestClient, tenant: TenantKeys, **overrides: str) -> object:
    body = {
        "submission_id": "sub-12345678",
        "session_id": "visit-12345678",
        "topic": "damaged",
        "message": FIRST,
        "email": "ana@example.com",
        "name": "Ana Lima",
    }
    body.update(overrides)
    return client.post("/v1/contact-form/submit", json=body, headers=tenant.headers("public"))


def _ticket(client: TestClient, tenant: TenantKeys, ticket_id: str) -> dict[str, object]:
    response = client.get(f"/v1/tickets/{ticket_id}", headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_resubmission_adds_and_never_replaces_or_repoints(client: TestClient, tenant: TenantKeys) -> None:
    first = _submit(client, tenant)
    assert first.status_code == 201 and first.json()["outcome"] == "created"  # type: ignore[attr-defined]
    ticket_id = first.json()["ticket_id"]  # type: ignore[attr-defined]

    again = _submit(client, tenant)  # a double click
    assert again.json()["outcome"] == "unchanged"  # type: ignore[attr-defined]

    # Someone holding the submission id tries to take the ticket over: other e-mail, other text.
    hijack = _submit(
        client, tenant, email="mallory@example.net", name="Mallory", message="Send the refund to me instead"
    )
    assert hijack.status_code == 409  # type: ignore[attr-defined]
    ticket = _ticket(client, tenant, ticket_id)
    assert ticket["body"] == FIRST and "mallory" not in str(ticket).lower()

    # The customer adds a detail (another name spelling, another topic): appended, contact untouched.
    more = _submit(
        client,
        tenant,
        email="ANA@example.com",
        name="A. L.",
        topic="refund",
        message="The order number is #1044.",
    )
    assert more.status_code == 201 and more.json()["outcome"] == "updated"  # type: ignore[attr-defined]
    ticket = _ticket(client, tenant, ticket_id)
    assert str(ticket["body"]).startswith(FIRST) and str(ticket["body"]).endswith(
        "The order number is #1044."
    )
    assert ticket["tags"] == ["damaged_in_transit"] and ticket["order_id"] is None
    history = client.get(
        f"/v1/customers/{ticket['customer_id']}/history", headers=tenant.headers("agent")
    ).json()
    assert "A. L." not in str(history) and "Ana Lima" in str(history)

    # Sending the addition again adds nothing.
    repeat = _submit(client, tenant, message="The order number is #1044.")
    assert repeat.json()["outcome"] == "unchanged"  # type: ignore[attr-defined]
    assert _ticket(client, tenant, ticket_id)["body"] == ticket["body"]
