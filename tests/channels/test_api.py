"""HTTP wiring of the channels: mailbox admin, quarantine, sending a draft, the outbox."""

from __future__ import annotations

from email import message_from_bytes, policy

from fastapi.testclient import TestClient

from channels import inbound, outbound
from replies.models import Draft
from runtime import Runtime
from tests.channels.conftest import Box
from tests.channels.mails import MALFORMED, marketplace_mail
from tests.channels.servers import Dovecot, SmtpRelay
from tests.conftest import TenantKeys


def _mailbox_body(dovecot: Dovecot, user: str, smtp_port: int) -> dict[str, object]:
    return {
        "name": "support",
        "address": user,
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_security": "none",
        "username": user,
        "password": dovecot.password,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
    }


def test_an_admin_connects_and_tests_a_mailbox_and_the_password_is_never_returned(
    client: TestClient, tenant: TenantKeys, dovecot: Dovecot, smtp_relay: SmtpRelay
) -> None:
    body = _mailbox_body(dovecot, dovecot.add_user(), smtp_relay.port)
    assert (
        client.post("/v1/channels/mailboxes", json=body, headers=tenant.headers("agent")).status_code == 403
    )
    created = client.post("/v1/channels/mailboxes", json=body, headers=tenant.headers("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["secret"] == "encrypted" and dovecot.password not in created.text
    listed = client.get("/v1/channels/mailboxes", headers=tenant.headers("admin"))
    assert [m["name"] for m in listed.json()] == ["support"] and dovecot.password not in listed.text
    tested = client.post("/v1/channels/mailboxes/support/test", headers=tenant.headers("admin")).json()
    assert tested["ok"] and [c["protocol"] for c in tested["checks"]] == ["imap", "smtp"]
    again = client.post("/v1/channels/mailboxes", json=body, headers=tenant.headers("admin"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    both = client.post(
        "/v1/channels/mailboxes",
        json={**body, "name": "x", "password_env": "X"},
        headers=tenant.headers("admin"),
    )
    assert both.status_code == 422
    assert client.delete("/v1/channels/mailboxes/support", headers=tenant.headers("admin")).status_code == 204


def test_an_agent_sends_a_draft_and_follows_it_in_the_outbox(
    client: TestClient,
    runtime: Runtime,
    tenant: TenantKeys,
    dovecot: Dovecot,
    box: Box,
    smtp_relay: SmtpRelay,
) -> None:
    raw, relay, _ = marketplace_mail("amazon", "fr", 4, box.user)
    dovecot.append(box.user, [raw, MALFORMED])
    inbound.poll_mailbox(runtime.session_factory, runtime.search, runtime.settings, mailbox_id=box.mailbox_id)
    quarantine = client.get("/v1/channels/quarantine", headers=tenant.headers("agent")).json()
    assert [q["message_id"] for q in quarantine] == ["<malformed-1@example.org>"]
    ticket_id = inbound.ticket_id_for(str(message_from_bytes(raw, policy=policy.default)["Message-ID"]))
    with runtime.session() as session:
        draft = Draft(
            tenant_id=tenant.tenant_id,
            ticket_id=ticket_id,
            channel="amazon",
            locale="fr",
            message="",
            reply="Bonjour",
        )
        session.add(draft)
        session.flush()
        draft_id = draft.id

    sent = client.post(
        f"/v1/drafts/{draft_id}/send",
        json={"text": "Bonjour, votre colis arrive demain."},
        headers=tenant.headers("agent"),
    )
    assert sent.status_code == 202, sent.text
    queued = sent.json()
    assert (queued["status"], queued["to_address"], queued["channel"]) == ("pending", relay, "amazon")
    assert client.post(f"/v1/drafts/{draft_id}/send", headers=tenant.headers("agent")).status_code == 409

    outbound.deliver_due(runtime.session_factory, runtime.settings)
    shown = client.get(f"/v1/outbox/{queued['id']}", headers=tenant.headers("agent")).json()
    assert shown["status"] == "sent" and shown["compliance"]["passed"] is True
    page = client.get("/v1/outbox", params={"status": "sent"}, headers=tenant.headers("agent")).json()
    assert [i["id"] for i in page["items"]] == [queued["id"]]
    assert (
        client.post(f"/v1/outbox/{queued['id']}/cancel", headers=tenant.headers("agent")).status_code == 409
    )
    assert len(smtp_relay.to(relay)) == 1
    other = client.get("/v1/outbox/999999", headers=tenant.headers("agent"))
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
