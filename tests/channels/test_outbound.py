"""Approved drafts and courtesy notes leave by SMTP (aiosmtpd) into the right thread, checked at send time."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

from sqlalchemy import select

from channels import inbound, outbound
from channels.models import OutboxMessage
from core.errors import ConflictError
from replies.models import Draft
from runtime import Runtime
from tests.channels.conftest import Box
from tests.channels.mails import build, marketplace_mail, new_id
from tests.channels.servers import Dovecot, SmtpRelay


def _poll(runtime: Runtime, box: Box) -> inbound.PollReport:
    return inbound.poll_mailbox(
        runtime.session_factory, runtime.search, runtime.settings, mailbox_id=box.mailbox_id
    )


def _deliver(runtime: Runtime) -> outbound.SendReport:
    return outbound.deliver_due(runtime.session_factory, runtime.settings)


def _draft(runtime: Runtime, tenant_id: str, ticket_id: str, reply: str, channel: str = "amazon") -> int:
    with runtime.session() as session:
        draft = Draft(
            tenant_id=tenant_id,
            ticket_id=ticket_id,
            channel=channel,
            locale="en",
            message="",
            reply=reply,
        )
        session.add(draft)
        session.flush()
        return draft.id


def _approve(runtime: Runtime, box: Box, draft_id: int, text: str | None = None) -> int:
    with runtime.session() as session:
        return outbound.approve_draft(
            session, tenant_id=box.tenant_id, draft_id=draft_id, text=text, actor="agent-key:1"
        ).id


def _outbox(runtime: Runtime, outbox_id: int) -> OutboxMessage:
    with runtime.session() as session:
        row = session.get_one(OutboxMessage, outbox_id)
        session.expunge(row)
        return row


def _amazon_ticket(runtime: Runtime, dovecot: Dovecot, box: Box, index: int = 1) -> tuple[str, str, str]:
    raw, relay, order = marketplace_mail("amazon", "en", index, box.user)
    message_id = message_from_bytes(raw, policy=policy.default)["Message-ID"]
    dovecot.append(box.user, [raw])
    _poll(runtime, box)
    return inbound.ticket_id_for(str(message_id)), relay, str(message_id)


def test_an_approved_reply_goes_to_the_relay_address_of_the_thread(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    ticket_id, relay, original_id = _amazon_ticket(runtime, dovecot, box)
    draft_id = _draft(
        runtime, box.tenant_id, ticket_id, "Your parcel is on its way and should arrive tomorrow."
    )
    outbox_id = _approve(runtime, box, draft_id)

    report = _deliver(runtime)

    assert report.sent == 1
    [accepted] = smtp_relay.to(relay)
    assert accepted.recipients == [relay, box.user]  # plus the envelope copy to the mailbox itself
    sent = message_from_bytes(accepted.data, policy=policy.default)
    row = _outbox(runtime, outbox_id)
    assert row.status == "sent" and row.attempts == 1
    assert sent["Message-ID"] == row.message_id
    assert sent["In-Reply-To"] == original_id and original_id in str(sent["References"])
    assert str(sent["Subject"]).startswith("Re: ") and sent["From"] == box.user
    assert "arrive tomorrow" in sent.get_content()
    # The copy comes back through the mailbox: recognised as ours, not a new ticket.
    again = _poll(runtime, box)
    assert (again.own_copies, again.created) == (1, 0)
    # One approval per draft.
    with runtime.session() as session:
        try:
            outbound.approve_draft(session, tenant_id=box.tenant_id, draft_id=draft_id, text=None, actor="x")
        except ConflictError as exc:
            assert "already approved" in exc.message
        else:
            raise AssertionError("a second approval was accepted")


def test_an_approved_amazon_draft_with_a_link_is_refused_at_send(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    ticket_id, relay, _ = _amazon_ticket(runtime, dovecot, box)
    draft_id = _draft(runtime, box.tenant_id, ticket_id, "Thanks for your patience.")
    # The agent edits the draft and adds a link before approving.
    outbox_id = _approve(
        runtime, box, draft_id, "Track it yourself at https://tracking.example-shop.com/302 please."
    )

    report = _deliver(runtime)

    assert report.blocked == 1 and report.sent == 0
    assert smtp_relay.to(relay) == []
    row = _outbox(runtime, outbox_id)
    assert row.status == "blocked" and row.attempts == 0
    assert "external_link" in (row.last_error or "")
    assert {v["rule"] for v in row.compliance["violations"]} == {"external_link"}
    assert _deliver(runtime).blocked == 0  # it stays blocked; nothing retries it


def test_a_temporary_refusal_is_retried_with_backoff_and_a_permanent_one_fails(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    ticket_id, relay, _ = _amazon_ticket(runtime, dovecot, box, index=1)
    answers = ["451 4.3.0 try again later"]
    smtp_relay.before_accept = lambda accepted: answers.pop(0) if answers else None
    outbox_id = _approve(runtime, box, _draft(runtime, box.tenant_id, ticket_id, "It ships today."))

    first = _deliver(runtime)
    row = _outbox(runtime, outbox_id)
    assert first.retried == 1 and row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at > row.created_at and "451" in (row.last_error or "")
    time.sleep(0.05)  # the test settings' backoff is 10 ms
    assert _deliver(runtime).sent == 1
    assert _outbox(runtime, outbox_id).attempts == 2
    assert len(smtp_relay.to(relay)) == 1

    other_ticket, other_relay, _ = _amazon_ticket(runtime, dovecot, box, index=2)
    smtp_relay.before_accept = lambda accepted: "550 5.1.1 mailbox unknown"
    failed_id = _approve(runtime, box, _draft(runtime, box.tenant_id, other_ticket, "It ships today."))
    assert _deliver(runtime).failed == 1
    assert _outbox(runtime, failed_id).status == "failed"
    assert smtp_relay.to(other_relay) == []


def test_merge_courtesy_notes_go_to_the_other_mail_threads(
    runtime: Runtime, dovecot: Dovecot, box: Box, smtp_relay: SmtpRelay
) -> None:
    amazon_ticket, relay, _ = _amazon_ticket(runtime, dovecot, box)
    shop_raw = build(
        sender="Buyer One <buyer.one@example.org>",
        to=box.user,
        subject="Still no parcel",
        body="Hello, I wrote on Amazon too: my parcel has not arrived.",
        message_id=new_id("example.org"),
    )
    dovecot.append(box.user, [shop_raw])
    _poll(runtime, box)
    shop_ticket = inbound.ticket_id_for(
        str(message_from_bytes(shop_raw, policy=policy.default)["Message-ID"])
    )
    with runtime.session() as session:
        group = outbound.merge_and_notify(
            session,
            tenant_id=box.tenant_id,
            ticket_ids=[amazon_ticket, shop_ticket],
            actor="agent",
            reason="same",
        )
        notes = list(session.scalars(select(OutboxMessage).where(OutboxMessage.merge_group_id == group.id)))
        assert [(n.kind, n.ticket_id, n.to_address) for n in notes] == [
            ("courtesy_note", shop_ticket, "buyer.one@example.org")
        ]
    assert _deliver(runtime).sent == 1
    assert len(smtp_relay.to("buyer.one@example.org")) == 1 and smtp_relay.to(relay) == []


def test_undoing_a_merge_cancels_notes_not_yet_sent(runtime: Runtime, dovecot: Dovecot, box: Box) -> None:
    first, _, _ = _amazon_ticket(runtime, dovecot, box, index=1)
    second, _, _ = _amazon_ticket(runtime, dovecot, box, index=2)
    with runtime.session() as session:
        group = outbound.merge_and_notify(
            session, tenant_id=box.tenant_id, ticket_ids=[first, second], actor="agent", reason=""
        )
        group_id = group.id
    with runtime.session() as session:
        outbound.undo_merge_and_cancel(
            session, tenant_id=box.tenant_id, group_id=group_id, actor="agent", reason=""
        )
        statuses = list(
            session.scalars(select(OutboxMessage.status).where(OutboxMessage.merge_group_id == group_id))
        )
    assert statuses == ["cancelled"]
    assert _deliver(runtime).sent == 0


def test_a_ticket_that_came_by_no_mail_cannot_be_answered_by_mail(runtime: Runtime, box: Box) -> None:
    from history.schemas import TicketCreate
    from history.service import ingest_tickets

    with runtime.session() as session:
        ingest_tickets(
            session,
            runtime.search,
            tenant_id=box.tenant_id,
            tickets=[TicketCreate(id="web-1", channel="web", body="Where is my parcel?")],
        )
    draft_id = _draft(runtime, box.tenant_id, "web-1", "On its way.", channel="web")
    with runtime.session() as session:
        try:
            outbound.approve_draft(session, tenant_id=box.tenant_id, draft_id=draft_id, text=None, actor="x")
        except ConflictError as exc:
            assert "did not arrive by mail" in exc.message
        else:
            raise AssertionError("queued a mail for a web ticket")


def test_erasing_the_customer_strips_their_mail_but_a_reread_still_skips_it(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    from sqlalchemy import update

    from channels.models import InboundMail, Mailbox
    from history.lookup import get_ticket
    from privacy.service import erase_customer

    ticket_id, relay, _ = _amazon_ticket(runtime, dovecot, box)
    outbox_id = _approve(runtime, box, _draft(runtime, box.tenant_id, ticket_id, "On its way."))
    with runtime.session() as session:
        customer_id = get_ticket(session, tenant_id=box.tenant_id, ticket_id=ticket_id).customer_id
        assert customer_id is not None
        erase_customer(session, tenant_id=box.tenant_id, customer_id=customer_id, actor="dpo")
    with runtime.session() as session:
        record = session.scalar(select(InboundMail))
        assert record is not None and (record.reply_to, record.subject, record.order_ids) == ("", "", [])
        session.execute(update(Mailbox).values(last_uid=0))
    row = _outbox(runtime, outbox_id)
    assert (row.status, row.to_address, row.body) == ("cancelled", "", "")
    assert _poll(runtime, box).seen_before == 1
    assert _deliver(runtime).sent == 0
