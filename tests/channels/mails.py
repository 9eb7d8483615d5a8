"""Realistic mail as marketplaces relay it and as shop customers write it, built with the email package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

BASE_DATE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def new_id(domain: str = "mail.example") -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def build(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    reply_to: str | None = None,
    date: datetime | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    extra: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or BASE_DATE)
    message["Message-ID"] = message_id or new_id()
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    if reply_to:
        message["Reply-To"] = reply_to
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


# (channel, relay domain per language, order id per language, subject/body per language)
MARKETPLACE_TEXTS = {
    "en": (
        "Where is my order?",
        "Hello, my parcel for order {order} has not arrived yet. Can you check please?",
    ),
    "de": (
        "Wo ist meine Bestellung?",
        "Hallo, mein Paket zur Bestellung {order} ist noch nicht da. Können Sie bitte nachsehen?",
    ),
    "fr": (
        "Où est ma commande ?",
        "Bonjour, mon colis pour la commande {order} n'est toujours pas arrivé. Pouvez-vous vérifier ?",
    ),
    "es": (
        "¿Dónde está mi pedido?",
        "Hola, el paquete del pedido {order} todavía no ha llegado. ¿Pueden revisarlo por favor?",
    ),
    "it": (
        "Dov'è il mio ordine?",
        "Ciao, il pacco dell'ordine {order} non è ancora arrivato. Potete controllare per favore?",
    ),
}
RELAYS = {
    "amazon": {
        "en": "marketplace.amazon.com",
        "de": "marketplace.amazon.de",
        "fr": "marketplace.amazon.fr",
        "es": "marketplace.amazon.es",
        "it": "marketplace.amazon.it",
    },
    "ebay": {
        "en": "members.ebay.com",
        "de": "members.ebay.de",
        "fr": "members.ebay.fr",
        "es": "members.ebay.es",
        "it": "members.ebay.it",
    },
    "walmart": {lang: "relay.walmart.com" for lang in MARKETPLACE_TEXTS},
}


def order_for(channel: str, index: int) -> str:
    if channel == "amazon":
        return f"302-{1000000 + index:07d}-{2000000 + index:07d}"
    if channel == "ebay":
        return f"12-{10000 + index:05d}-{20000 + index:05d}"
    if channel == "walmart":
        return f"{2000000000000 + index:013d}"
    return f"#{4000 + index}"


def marketplace_mail(channel: str, lang: str, index: int, to: str) -> tuple[bytes, str, str]:
    """A buyer message relayed by the marketplace: (raw, relay address, order id)."""
    order = order_for(channel, index)
    relay = f"buyer{index:03d}x{channel[:2]}@{RELAYS[channel][lang]}"
    subject, body = MARKETPLACE_TEXTS[lang]
    raw = build(
        sender=f"Buyer {index} <{relay}>",
        to=to,
        subject=f"{subject} ({order})",
        body=body.format(order=order),
        message_id=new_id(RELAYS[channel][lang]),
        date=BASE_DATE + timedelta(minutes=index),
    )
    return raw, relay, order


def shop_mail(lang: str, index: int, to: str) -> tuple[bytes, str, str]:
    """A web-shop customer writing to the support address directly."""
    order = order_for("email", index)
    sender = f"customer{index}@example.org"
    subject, body = MARKETPLACE_TEXTS[lang]
    raw = build(
        sender=f"Customer {index} <{sender}>",
        to=to,
        subject=subject,
        body=body.format(order=order),
        date=BASE_DATE + timedelta(minutes=index),
    )
    return raw, sender, order


MALFORMED = (
    b"From: Broken Client <broken@example.org>\r\n"
    b"To: support@shop.test\r\n"
    b"Subject: attachment\r\n"
    b"Message-ID: <malformed-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="never-used"\r\n'
    b"\r\n"
    b"This body has no part that starts with the declared boundary.\r\n"
)
