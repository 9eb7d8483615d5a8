"""A real Dovecot mailbox -> tickets: channel, thread, order, quarantine, idempotence, IDLE."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import pytest
from sqlalchemy import func, select, update

from channels import inbound, service
from channels.models import InboundMail, Mailbox, QuarantinedMail
from history.models import Ticket
from runtime import Runtime
from tests.channels.conftest import Box
from tests.channels.mails import MALFORMED, MARKETPLACE_TEXTS, build, marketplace_mail, new_id, shop_mail
from tests.channels.servers import Dovecot


def _poll(runtime: Runtime, box: Box) -> inbound.PollReport:
    return inbound.poll_mailbox(
        runtime.session_factory, runtime.search, runtime.settings, mailbox_id=box.mailbox_id
    )


def _ticket_of(runtime: Runtime, message_id: str) -> Ticket:
    with runtime.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.external_id == inbound.ticket_id_for(message_id)))
        assert ticket is not None, f"no ticket for {message_id}"
        session.expunge(ticket)
        return ticket


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError("no Message-ID")


def _count(runtime: Runtime, model: type[object]) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_relay_mail_from_each_marketplace_in_five_languages_becomes_tickets(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    expected = []
    raws = []
    index = 0
    for channel in ("amazon", "ebay", "walmart"):
        for lang in MARKETPLACE_TEXTS:
            raw, relay, order = marketplace_mail(channel, lang, index, box.user)
            raws.append(raw)
            expected.append((_message_id(raw), channel, lang, relay, order))
            index += 1
    for lang in MARKETPLACE_TEXTS:
        raw, sender, order = shop_mail(lang, index, box.user)
        raws.append(raw)
        expected.append((_message_id(raw), "email", lang, sender, order))
        index += 1
    dovecot.append(box.user, raws)

    report = _poll(runtime, box)

    assert report.fetched == len(raws) and report.created == len(raws) and report.quarantined == 0
    with runtime.session() as session:
        for message_id, channel, lang, address, order in expected:
            ticket = session.scalar(
                select(Ticket).where(Ticket.external_id == inbound.ticket_id_for(message_id))
            )
            assert ticket is not None
            assert (ticket.channel, ticket.order_id, ticket.locale) == (channel, order, lang), message_id
            assert ticket.contact["email"] == address
            assert ticket.thread is not None and ticket.thread.channel == channel
            record = session.scalar(select(InboundMail).where(InboundMail.message_id == message_id))
            assert (
                record is not None and record.reply_to == address and record.ticket_id == ticket.external_id
            )
    # Every ticket went through the ingest: indexed for duplicate search.
    assert runtime.search.collection(box.tenant_id, "tickets").index.count() == len(raws)


def test_a_second_poll_and_a_reread_after_uidvalidity_reset_double_nothing(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    raws = [marketplace_mail("amazon", "de", i, box.user)[0] for i in range(12)]
    dovecot.append(box.user, raws)
    first = _poll(runtime, box)
    assert first.created == 12
    again = _poll(runtime, box)
    assert again.fetched == 0 and again.created == 0
    # As after a UIDVALIDITY change: the whole folder is read again; the Message-ID key skips it all.
    with runtime.session() as session:
        session.execute(update(Mailbox).values(uidvalidity=None, last_uid=0))
    reread = _poll(runtime, box)
    assert reread.fetched == 12 and reread.seen_before == 12 and reread.created == 0
    assert _count(runtime, Ticket) == 12 and _count(runtime, InboundMail) == 12


def test_replies_join_the_thread_by_in_reply_to_references_and_relay_order(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    first_id = new_id("example.org")
    first = build(
        sender="Mia <mia@example.org>",
        to=box.user,
        subject="Broken lamp",
        body="My lamp #1042 arrived broken.",
        message_id=first_id,
    )
    ours = new_id("shop.test")  # a reply sent from elsewhere, never seen by Deflect
    second_id = new_id("example.org")
    second = build(
        sender="Mia <mia@example.org>",
        to=box.user,
        subject="Re: Broken lamp",
        body="Any news?",
        message_id=second_id,
        in_reply_to=ours,
        references=[first_id, ours],
    )
    third_id = new_id("example.org")
    third = build(
        sender="Mia <mia@example.org>",
        to=box.user,
        subject="Re: Broken lamp",
        body="Hello??",
        message_id=third_id,
        references=[second_id],
    )
    amazon_raw, relay, order = marketplace_mail("amazon", "en", 7, box.user)
    # Amazon relays a buyer's follow-up without threading headers: same relay address and order.
    follow_up = build(
        sender=f"Buyer <{relay}>",
        to=box.user,
        subject=f"Order {order}",
        body=f"Still waiting for {order}.",
        message_id=new_id("marketplace.amazon.com"),
    )
    other_order = build(
        sender=f"Buyer <{relay}>",
        to=box.user,
        subject="Another order 302-9999999-9999999",
        body="And this one?",
        message_id=new_id("marketplace.amazon.com"),
    )
    dovecot.append(box.user, [first, second])
    _poll(runtime, box)
    dovecot.append(box.user, [third, amazon_raw, follow_up, other_order])
    _poll(runtime, box)

    threads = {m: _ticket_of(runtime, m).thread_id for m in (first_id, second_id, third_id)}
    assert len(set(threads.values())) == 1
    amazon = [_ticket_of(runtime, _message_id(r)) for r in (amazon_raw, follow_up, other_order)]
    assert amazon[0].thread_id == amazon[1].thread_id != amazon[2].thread_id
    assert {t.channel for t in amazon} == {"amazon"}


def test_a_forwarded_mail_becomes_the_original_customers_ticket(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    raw = build(
        sender="Shop Owner <owner@shop.test>",
        to=box.user,
        subject="Fwd: ordine",
        body=(
            "Can support take this one?\n\n"
            "---------- Forwarded message ---------\n"
            "From: Anna Rossi <anna.rossi@example.it>\n"
            "Date: Mon, 16 Nov 2026 10:00\n"
            "Subject: ordine\n"
            "To: owner@shop.test\n\n"
            "Ciao, il mio ordine #1042 non è ancora arrivato. Grazie\n"
        ),
    )
    dovecot.append(box.user, [raw])
    _poll(runtime, box)
    ticket = _ticket_of(runtime, _message_id(raw))
    assert ticket.contact == {"email": "anna.rossi@example.it", "name": "Anna Rossi"}
    assert ticket.order_id == "#1042"
    assert "il mio ordine #1042" in ticket.body and "Can support take this one?" in ticket.body
    with runtime.session() as session:
        assert session.scalar(select(InboundMail.forwarded)) is True


def test_quoted_history_and_signature_are_left_out_of_the_ticket(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    raw = build(
        sender="Jonas <jonas@example.de>",
        to=box.user,
        subject="Re: Ihre Bestellung #2210",
        body=(
            "Die Lampe flackert leider immer noch. Was kann ich tun?\n\n"
            "Viele Grüße\nJonas Weber\n\n"
            "Am Mo., 16. Nov. 2026 um 10:00 Uhr schrieb Support <support@shop.test>:\n"
            "> Bitte setzen Sie die Lampe zurück.\n"
            "> Ihr Team\n"
        ),
    )
    dovecot.append(box.user, [raw])
    _poll(runtime, box)
    ticket = _ticket_of(runtime, _message_id(raw))
    assert ticket.body.startswith("Die Lampe flackert leider immer noch.")
    assert "Bitte setzen Sie" not in ticket.body and "schrieb" not in ticket.body
    assert ticket.locale == "de" and ticket.order_id == "#2210"


def test_malformed_mime_is_quarantined_with_its_reason_and_the_rest_still_arrives(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    good = [shop_mail("en", i, box.user)[0] for i in range(3)]
    no_sender = b"To: support@shop.test\r\nSubject: who am I\r\nMessage-ID: <nosender@x>\r\n\r\nhello\r\n"
    dovecot.append(box.user, [good[0], MALFORMED, good[1], no_sender, good[2]])
    report = _poll(runtime, box)
    assert report.created == 3 and report.quarantined == 2
    listed = {
        q.message_id: q for q in service.list_quarantine(runtime.session_factory(), tenant_id=box.tenant_id)
    }
    assert "StartBoundaryNotFoundDefect" in listed["<malformed-1@example.org>"].reason
    assert listed["<malformed-1@example.org>"].kept_raw
    assert "no valid sender" in listed["<nosender@x>"].reason
    with runtime.session() as session:
        kept = session.scalar(
            select(QuarantinedMail.raw).where(QuarantinedMail.message_id == "<malformed-1@example.org>")
        )
        assert kept == MALFORMED
        session.execute(update(Mailbox).values(last_uid=0))
    _poll(runtime, box)  # read again: neither tickets nor quarantine entries double
    assert _count(runtime, QuarantinedMail) == 2 and _count(runtime, Ticket) == 3


def test_a_20_mb_attachment_keeps_its_metadata(runtime: Runtime, dovecot: Dovecot, box: Box) -> None:
    photo = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    raw = build(
        sender="Lea <lea@example.fr>",
        to=box.user,
        subject="Colis abîmé, commande #3301",
        body="Bonjour, le colis est arrivé abîmé, voici la photo.",
        attachments=[("colis.jpg", "image/jpeg", photo)],
    )
    assert len(raw) > 20 * 1024 * 1024
    dovecot.append(box.user, [raw])
    report = _poll(runtime, box)
    assert report.created == 1
    with runtime.session() as session:
        record = session.scalar(select(InboundMail))
        assert record is not None
        assert record.attachments == [
            {
                "filename": "colis.jpg",
                "content_type": "image/jpeg",
                "size": len(photo),
                "sha256": hashlib.sha256(photo).hexdigest(),
            }
        ]
    assert _ticket_of(runtime, _message_id(raw)).order_id == "#3301"


def test_html_only_mail_is_read_as_text(runtime: Runtime, dovecot: Dovecot, box: Box) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Sam <sam@example.com>"
    message["To"] = box.user
    message["Subject"] = "Refund"
    message["Message-ID"] = new_id()
    message.set_content(
        "<html><body><p>Where is my <b>refund</b> for #5120?</p></body></html>", subtype="html"
    )
    dovecot.append(box.user, [message.as_bytes()])
    _poll(runtime, box)
    ticket = _ticket_of(runtime, str(message["Message-ID"]))
    assert "Where is my" in ticket.body and "refund" in ticket.body and "<b>" not in ticket.body


def test_the_mailbox_password_never_reaches_the_log(
    runtime: Runtime, dovecot: Dovecot, box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(box.user, [shop_mail("en", 1, box.user)[0], MALFORMED])
    with caplog.at_level(logging.DEBUG):
        _poll(runtime, box)
        with runtime.session() as session:
            service.test_connection(runtime.settings, session.get_one(Mailbox, box.mailbox_id))
    assert dovecot.password not in caplog.text
    with runtime.session() as session:
        row = session.get_one(Mailbox, box.mailbox_id)
        assert row.secret_ciphertext and dovecot.password not in row.secret_ciphertext


def test_the_connection_test_names_the_failing_step(
    runtime: Runtime, dovecot: Dovecot, box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runtime.session() as session:
        mailbox = session.get_one(Mailbox, box.mailbox_id)
        assert service.test_connection(runtime.settings, mailbox).ok
        # The password read from the environment instead of the encrypted copy: a wrong one.
        mailbox.secret_ciphertext, mailbox.secret_env = None, "DEFLECT_TEST_BOX_PASSWORD"
        unset = service.test_connection(runtime.settings, mailbox)
        assert not unset.ok and "DEFLECT_TEST_BOX_PASSWORD" in unset.checks[0].message
        monkeypatch.setenv("DEFLECT_TEST_BOX_PASSWORD", "wrong")
        failed = service.test_connection(runtime.settings, mailbox)
        assert not failed.ok and (failed.checks[0].protocol, failed.checks[0].stage) == ("imap", "auth")
        monkeypatch.setenv("DEFLECT_TEST_BOX_PASSWORD", dovecot.password)
        assert service.test_connection(runtime.settings, mailbox).ok
        mailbox.folder = "Nope"
        assert service.test_connection(runtime.settings, mailbox).checks[0].stage == "folder"
        mailbox.folder = "INBOX"
        mailbox.imap_security = "ssl"  # TLS spoken to a plain-text port
        assert service.test_connection(runtime.settings, mailbox).checks[0].stage == "tls"
        mailbox.imap_security, mailbox.imap_port = "none", 1
        assert service.test_connection(runtime.settings, mailbox).checks[0].stage == "connect"
        mailbox.imap_port, mailbox.smtp_port = dovecot.port, 1
        smtp = service.test_connection(runtime.settings, mailbox).checks[1]
        assert (smtp.protocol, smtp.ok, smtp.stage) == ("smtp", False, "connect")
        session.rollback()


def test_the_watcher_waits_in_idle_and_takes_new_mail_in(
    runtime: Runtime, dovecot: Dovecot, box: Box
) -> None:
    runtime.settings.mail_idle_seconds = 600  # only the IDLE notification, not a timed poll, can wake it
    stop = threading.Event()
    watcher = threading.Thread(
        target=inbound.watch_mailbox,
        args=(runtime.session_factory, runtime.search, runtime.settings),
        kwargs={"mailbox_id": box.mailbox_id, "stop": stop},
        daemon=True,
    )
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with runtime.session() as session:
                if session.get_one(Mailbox, box.mailbox_id).last_polled_at is not None:
                    break
            time.sleep(0.05)
        raw = shop_mail("fr", 3, box.user)[0]
        dovecot.append(box.user, [raw])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _count(runtime, InboundMail) == 0:
            time.sleep(0.05)
        assert _count(runtime, InboundMail) == 1
        assert _ticket_of(runtime, _message_id(raw)).channel == "email"
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()
