"""Raw RFC 5322 bytes -> what a ticket needs: channel, thread headers, customer, the new text, order ids.

Parsing is Python's `email` package with `policy.default`; the customer's new words are separated from
quoted history and signatures by mail-parser-reply (reply headers in en/de/fr/es/it and more); HTML-only
mail is turned into text by BeautifulSoup. A message this module cannot make sense of raises MalformedMail
with the reason, and the caller quarantines it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from bs4 import BeautifulSoup

from compliance.service import detect_locale
from core.schemas import MAX_TEXT_CHARS
from core.text import newest_reply
from history.identity import canonical_order_id, find_order_ids

MAX_REFERENCES = 20
MAX_ATTACHMENTS = 100
MAX_MESSAGE_ID = 500
LOCALES = ("en", "fr", "de", "es", "it")

# Marketplaces relay buyer mail through their own domains; a reply to that address reaches the buyer.
RELAY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("amazon", re.compile(r"(?:^|\.)marketplace\.amazon\.[a-z]{2,3}(?:\.[a-z]{2})?$")),
    ("ebay", re.compile(r"(?:^|\.)members\.ebay\.[a-z]{2,3}(?:\.[a-z]{2})?$")),
    ("walmart", re.compile(r"(?:^|\.)relay\.walmart\.com$")),
)
# Shopify's contact form mails come from Shopify with the customer in Reply-To.
SHOPIFY_SENDERS = ("mailer@shopify.com", "no-reply@shopify.com")

# MIME damage after which the parts (and so the customer's text) cannot be found reliably.
FATAL_DEFECTS = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.NoBoundaryInMultipartDefect,
)
_MSGID = re.compile(r"<[^<>\s]{1,498}>")
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|fw|wg|tr|rv|i|enc)\s*:", re.IGNORECASE)
_FORWARD_MARKER = re.compile(
    r"^[-\s>]*(?:-{2,}\s*)?(?:forwarded message|original message|begin forwarded message|"
    r"weitergeleitete nachricht|ursprüngliche nachricht|message transféré|message d'origine|"
    r"mensaje reenviado|mensaje original|messaggio inoltrato|messaggio originale)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_FROM = re.compile(r"^(?:from|von|de|da)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


class MalformedMail(Exception):
    """A message that cannot become a ticket; `reason` says why, for the quarantine list."""

    def __init__(self, reason: str, *, message_id: str | None = None, headers: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id
        self.headers = headers


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: str | None
    references: list[str]
    channel: str
    sender: str
    sender_name: str
    reply_to: str
    subject: str
    text: str
    full_text: str
    order_ids: list[str]
    locale: str
    sent_at: datetime | None
    forwarded: bool
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def thread_refs(self) -> list[str]:
        """Message-IDs this one answers, nearest first."""
        refs = [self.in_reply_to] if self.in_reply_to else []
        return refs + [r for r in reversed(self.references) if r not in refs]


def header_block(raw: bytes, limit: int = 8000) -> str:
    """The message's header section as text, for the quarantine list."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = raw[: end if end >= 0 else limit][:limit]
    return head.decode("utf-8", errors="replace")


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message without one, so a re-poll still recognises it."""
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.deflect>"


def _message_id(value: str | None, raw: bytes) -> str:
    found = _MSGID.findall(value or "")
    if not found:
        return synthetic_message_id(raw)
    message_id = str(found[0])
    if len(message_id) > MAX_MESSAGE_ID:
        message_id = f"<{hashlib.sha256(message_id.encode()).hexdigest()}@long-message-id.deflect>"
    return message_id


def channel_of(address: str) -> str | None:
    domain = address.rpartition("@")[2].lower()
    for channel, pattern in RELAY_PATTERNS:
        if pattern.search(domain):
            return channel
    return None


def _addresses(message: Message, header: str) -> list[tuple[str, str]]:
    values = message.get_all(header) or []
    pairs = getaddresses([str(v) for v in values])
    return [
        (name.strip(), addr.strip().lower())
        for name, addr in pairs
        if "@" in addr and " " not in addr.strip()
    ]


def _decode_part(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        # Unknown or lying charset: the bytes still carry the customer's words.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return BeautifulSoup(content, "html.parser").get_text("\n")
    return content


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    return _decode_part(body)  # type: ignore[arg-type]


def _attachments(message: EmailMessage, body: Message | None) -> tuple[list[Attachment], EmailMessage | None]:
    """Metadata of every attachment (the bytes stay on the server) and a forwarded message/rfc822, if any."""
    found: list[Attachment] = []
    forwarded: EmailMessage | None = None
    for part in message.walk():
        if part is body or part.is_multipart():
            continue
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], EmailMessage) and forwarded is None:
                forwarded = inner[0]
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and not filename:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if len(found) < MAX_ATTACHMENTS:
            found.append(
                Attachment(
                    filename=(filename or "")[:300],
                    content_type=part.get_content_type(),
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                )
            )
    return found, forwarded


def _fatal_defects(message: Message) -> list[str]:
    found = []
    for part in message.walk():
        for defect in part.defects:
            if isinstance(defect, FATAL_DEFECTS):
                found.append(type(defect).__name__)
    return found


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def latest_reply(text: str) -> str:
    """The customer's new words: quoted history and signature removed; the whole text when that leaves
    nothing."""
    return _clean(newest_reply(text)) or _clean(text)


def _split_forward(text: str) -> tuple[str, str, str] | None:
    """(note above the forward, sender line of the forwarded mail, forwarded text), or None."""
    marker = _FORWARD_MARKER.search(text)
    if marker is None:
        return None
    note, rest = text[: marker.start()], text[marker.end() :]
    sender = _FORWARD_FROM.search(rest[:2000])
    # The forwarded headers end at the first blank line after the From: line.
    start = sender.end() if sender else 0
    blank = re.search(r"\n\s*\n", rest[start:])
    body = rest[start + blank.end() :] if blank else rest[start:]
    return _clean(note), sender.group(1).strip() if sender else "", _clean(body)


def _locale(message: Message, text: str) -> str:
    declared = str(message.get("Content-Language") or "").strip().lower()[:2]
    if declared in LOCALES:
        return declared
    return detect_locale(text)


def _date(message: Message) -> datetime | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _truncate(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[: MAX_TEXT_CHARS - 40].rstrip() + "\n[… message truncated by Deflect]"


def parse_mail(raw: bytes) -> ParsedMail:
    """Parses one message; MalformedMail says why it cannot become a ticket."""
    headers = header_block(raw)
    try:
        message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
        message_id = _message_id(str(message.get("Message-ID") or ""), raw)
    except (ValueError, LookupError, TypeError, AttributeError, email_errors.MessageError) as exc:
        raise MalformedMail(f"unparseable headers: {type(exc).__name__}: {exc}", headers=headers) from exc
    try:
        return _parse(message, message_id, raw)
    except MalformedMail as exc:
        exc.message_id, exc.headers = message_id, headers
        raise
    except (ValueError, LookupError, TypeError, AttributeError, email_errors.MessageError) as exc:
        raise MalformedMail(
            f"unparseable message: {type(exc).__name__}: {exc}", message_id=message_id, headers=headers
        ) from exc


def _parse(message: EmailMessage, message_id: str, raw: bytes) -> ParsedMail:
    fatal = _fatal_defects(message)
    if fatal:
        raise MalformedMail(f"malformed MIME structure: {', '.join(sorted(set(fatal)))}")
    senders = _addresses(message, "From")
    if not senders:
        raise MalformedMail("no valid sender address in From")
    sender_name, sender = senders[0]
    reply_tos = _addresses(message, "Reply-To")

    channel = channel_of(sender)
    relay = sender if channel else None
    if channel is None:
        for _, address in reply_tos:
            if found := channel_of(address):
                channel, relay = found, address
                break
    if channel is None and sender in SHOPIFY_SENDERS and reply_tos:
        channel = "shopify"
    reply_to = relay or (reply_tos[0][1] if reply_tos else sender)
    contact_name = sender_name
    if channel == "shopify" and reply_tos:
        contact_name = reply_tos[0][0] or sender_name

    in_reply_to_ids = _MSGID.findall(str(message.get("In-Reply-To") or ""))
    references = _MSGID.findall(" ".join(str(v) for v in message.get_all("References") or []))
    references = [r for r in references if len(r) <= MAX_MESSAGE_ID][-MAX_REFERENCES:]
    subject = re.sub(r"\s+", " ", str(message.get("Subject") or "")).strip()[:1000]

    body_part = message.get_body(preferencelist=("plain", "html"))
    attachments, forwarded_message = _attachments(message, body_part)
    full_text = _clean(_text_of(message))

    forwarded = False
    if forwarded_message is not None:
        inner_from = _addresses(forwarded_message, "From")
        inner_text = _clean(_text_of(forwarded_message))
        note = latest_reply(full_text) if full_text else ""
        text = _clean(f"{note}\n\n{latest_reply(inner_text)}" if note else latest_reply(inner_text))
        full_text = _clean(f"{full_text}\n\n{inner_text}")
        if inner_from and channel is None:
            contact_name, reply_to = inner_from[0]
        forwarded = True
    elif (split := _split_forward(full_text)) is not None and (
        _FORWARD_SUBJECT.match(subject) or not split[0]
    ):
        note, sender_line, inner_text = split
        text = _clean(f"{note}\n\n{latest_reply(inner_text)}" if note else latest_reply(inner_text))
        inner_from = [(n.strip(), a.strip().lower()) for n, a in getaddresses([sender_line]) if "@" in a]
        if inner_from and channel is None:
            contact_name, reply_to = inner_from[0]
        forwarded = True
    else:
        text = latest_reply(full_text) if full_text else ""

    if not text:
        if attachments:
            names = ", ".join(a.filename or a.content_type for a in attachments[:5])
            text = f"(no text; attachments: {names})"
        elif subject:
            text = subject
        else:
            raise MalformedMail("no text, subject or attachment")

    order_ids = [canonical_order_id(o) for o in find_order_ids(f"{subject}\n{text}\n{full_text}")]
    return ParsedMail(
        message_id=message_id,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else None,
        references=references,
        channel=channel or "email",
        sender=sender,
        sender_name=contact_name,
        reply_to=reply_to,
        subject=subject,
        text=_truncate(text),
        full_text=full_text,
        order_ids=list(dict.fromkeys(order_ids)),
        locale=_locale(message, text),
        sent_at=_date(message),
        forwarded=forwarded,
        attachments=attachments,
    )
