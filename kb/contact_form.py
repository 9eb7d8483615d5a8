"""The conditional contact form: articles for the chosen topic, and the live order status once verified."""

from __future__ import annotations

import hmac
import importlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from core.ratelimit import Rate, RateLimits
from core.schemas import Channel, Locale, Tag, reason_tags, scoped_to_channel
from history.identity import normalise_email, normalise_text, postcode_of
from history.schemas import ContactIn, TicketCreate
from indexing.engine import SearchEngine
from kb import service as kb_service
from kb.deflection import DeflectionEventCreate, record_events
from kb.models import Article
from kb.schemas import SuggestionRead
from kb.suggest import suggest

ContactTopic = Literal["tracking", "return", "refund", "damaged", "cancellation", "product_question", "other"]
# The form's customer-facing topics mapped to the reason tags of DATA_FORMATS.md.
TOPIC_TAGS: dict[str, tuple[Tag, ...]] = {
    "tracking": ("tracking", "delivery_change"),
    "return": ("return_label", "wrong_item"),
    "refund": ("refund_status",),
    "damaged": ("damaged_in_transit", "missing_item"),
    "cancellation": ("cancellation",),
    "product_question": ("product_question",),
    "other": ("other", "invoice"),
}
# Shorter messages carry too little meaning to rank on; the topic alone decides until then.
MIN_MESSAGE_CHARS = 12
TOPIC_ARTICLES = 4
SNIPPET_CHARS = 200


Verification = Literal["not_requested", "verified", "not_verified", "unavailable"]


class ContactSuggestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: ContactTopic
    message: str = Field("", max_length=5000)
    channel: Channel | None = None
    locale: Locale | None = None
    order_id: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=320)
    postcode: str | None = Field(None, max_length=20)
    top_k: int = Field(4, ge=1, le=10)

    @field_validator("order_id", "email", "postcode", "message")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None


class ShipmentStatus(BaseModel):
    carrier: str
    tracking_number: str | None
    status: str
    eta: datetime | None
    status_at: datetime | None
    location: str | None


class RefundStatus(BaseModel):
    refund_id: str
    status: str
    amount: float


class OrderStatusRead(BaseModel):
    """What a verified customer may see about their own order: no address, no contact details."""

    order_id: str
    channel: str
    status: str
    placed_at: datetime | None
    currency: str
    items: list[str]
    shipments: list[ShipmentStatus]
    refunds: list[RefundStatus]


class ContactSuggestResult(BaseModel):
    topic: str
    matched_on: Literal["message", "topic"]
    suggestions: list[SuggestionRead]
    verification: Verification
    order: OrderStatusRead | None


def _plain(text: str) -> str:
    text = re.sub(r"^#+\s.*$", "", text, flags=re.M)
    text = re.sub(r"[#*_`>]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _topic_articles(
    session: Session,
    *,
    tenant_id: str,
    tags: tuple[str, ...],
    channel: str | None,
    locale: str | None,
    limit: int,
) -> list[SuggestionRead]:
    """Articles tagged with the topic: channel-specific first, the customer's language before English."""
    language = (locale or "en").split("-")[0]
    articles, _ = kb_service.list_(session, tenant_id=tenant_id, channel=channel, limit=10_000)
    reasons = {a.external_id: reason_tags(a.tags) for a in articles}
    tagged = [a for a in articles if reasons[a.external_id] & set(tags) and a.locale in (language, "en")]
    primary = tags[0]
    tagged.sort(
        key=lambda a: (
            primary not in reasons[a.external_id],
            a.locale != language,
            not scoped_to_channel(a.channels, channel),
            a.external_id,
        )
    )
    # One article per subject: a translated article stands in for its English original.
    seen_subjects: set[str] = set()
    picked: list[Article] = []
    for article in tagged:
        subject = re.sub(r"-(fr|de|es|it)$", "", article.external_id)
        if subject in seen_subjects:
            continue
        seen_subjects.add(subject)
        picked.append(article)
    out: list[SuggestionRead] = []
    for article in picked[:limit]:
        body = _plain(article.body)
        snippet = body[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…" if len(body) > SNIPPET_CHARS else body
        out.append(
            SuggestionRead(
                id=article.external_id,
                title=article.title,
                url=article.url,
                snippet=snippet,
                highlights=[],
                score=0.0,
                confidence=0.0,
                locale=article.locale,
                channels=list(article.channels),
                tags=list(article.tags),
            )
        )
    return out


def _history_service() -> Any | None:
    try:
        return importlib.import_module("history.service")
    except ModuleNotFoundError as exc:
        if exc.name not in ("history", "history.service"):
            raise
        return None


@dataclass(frozen=True)
class OrderCheckLimits:
    """How many failed order checks an order, and a visitor, may collect per hour before the check locks.

    Once locked, even the right secret is answered `not_verified`, exactly like an unknown order, so
    the lock itself tells a guesser nothing.
    """

    limits: RateLimits
    visitor: str
    per_order: int
    per_visitor: int

    def _keys(self, tenant_id: str, order_key: str) -> tuple[tuple[str, Rate], tuple[str, Rate]]:
        return (
            (f"order-check:{tenant_id}:{order_key}", Rate(self.per_order, 3600)),
            (f"order-check-visitor:{tenant_id}:{self.visitor}", Rate(self.per_visitor, 3600)),
        )

    def locked(self, tenant_id: str, order_key: str) -> bool:
        return not all(self.limits.allowed(name, rate) for name, rate in self._keys(tenant_id, order_key))

    def failed(self, tenant_id: str, order_key: str) -> None:
        for name, rate in self._keys(tenant_id, order_key):
            self.limits.hit(name, rate)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _postcode_matches(address: str, postcode: str) -> bool:
    """The whole postcode of the order's address, however it is spaced or cased ("bs7 8ad", "BS78AD");
    a US ZIP may carry its +4. A part of the address (a street name, a house number) never matches."""
    expected = postcode_of(normalise_text(address))
    given = re.sub(r"[^0-9a-z]", "", normalise_text(postcode))
    if not expected or not given:
        return False
    if len(expected) == 5 and expected.isdigit() and re.fullmatch(r"\d{9}", given):
        given = given[:5]  # ZIP+4
    return _same(given, expected)


def _verified(order: Any, *, email: str | None, postcode: str | None) -> bool:
    """A secret only the buyer holds: the order's own e-mail address, or the full postcode it ships to."""
    contact: dict[str, Any] = order.contact or {}
    if email:
        known = str(contact.get("email") or "").strip().lower()
        if known and _same(email.strip().lower(), known):
            return True
    if postcode and contact.get("address"):
        return _postcode_matches(str(contact["address"]), postcode)
    return False


def order_status(
    session: Session,
    *,
    tenant_id: str,
    order_id: str,
    email: str | None,
    postcode: str | None,
    attempts: OrderCheckLimits | None = None,
) -> tuple[Verification, OrderStatusRead | None]:
    """The live status of an order, only when the e-mail or the postcode matches it.

    An unknown order, a failed check and a locked check read the same (`not_verified`, nothing else),
    so the form cannot be used to probe which order ids exist.
    """
    history = _history_service()
    if history is None:
        return "unavailable", None
    order = history.get_order(session, tenant_id=tenant_id, order_id=order_id)
    order_key = str(order.id) if order is not None else re.sub(r"\W", "", order_id).lower()[:100]
    if attempts is not None and attempts.locked(tenant_id, order_key):
        return "not_verified", None
    if order is None or not _verified(order, email=email, postcode=postcode):
        if attempts is not None:
            attempts.failed(tenant_id, order_key)
        return "not_verified", None
    return "verified", OrderStatusRead(
        order_id=order.order_id,
        channel=order.channel,
        status=order.status,
        placed_at=order.placed_at,
        currency=order.currency,
        items=[f"{item.qty} × {item.title}" for item in order.items],
        shipments=[
            ShipmentStatus(
                carrier=s.carrier,
                tracking_number=s.tracking_number,
                status=s.status,
                eta=s.eta,
                status_at=s.status_at,
                location=s.location,
            )
            for s in order.shipments
        ],
        refunds=[
            RefundStatus(refund_id=r.refund_id, status=r.status, amount=r.amount) for r in order.refunds
        ],
    )


def contact_suggest(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    request: ContactSuggestRequest,
    threshold: float | None,
    attempts: OrderCheckLimits | None = None,
) -> ContactSuggestResult:
    """Articles to show before the form can be sent, and the order status for a verified customer."""
    tags = TOPIC_TAGS[request.topic]
    suggestions: list[SuggestionRead] = []
    matched_on: Literal["message", "topic"] = "topic"
    if len(request.message) >= MIN_MESSAGE_CHARS:
        result = suggest(
            session,
            engine,
            tenant_id=tenant_id,
            query=request.message,
            channel=request.channel,
            locale=request.locale,
            top_k=request.top_k,
            threshold=threshold,
            tags=tags,
        )
        if not result.abstained:
            suggestions, matched_on = result.suggestions, "message"
    if not suggestions:
        # A message that matches nothing still leaves the topic's own articles worth showing.
        suggestions = _topic_articles(
            session,
            tenant_id=tenant_id,
            tags=tags,
            channel=request.channel,
            locale=request.locale,
            limit=min(request.top_k, TOPIC_ARTICLES),
        )
    verification: Verification = "not_requested"
    order = None
    if request.order_id and (request.email or request.postcode):
        verification, order = order_status(
            session,
            tenant_id=tenant_id,
            order_id=request.order_id,
            email=request.email,
            postcode=request.postcode,
            attempts=attempts,
        )
    return ContactSuggestResult(
        topic=request.topic,
        matched_on=matched_on,
        suggestions=suggestions,
        verification=verification,
        order=order,
    )


TOPIC_SUBJECTS = {
    "tracking": "Where is my order?",
    "return": "Returning an item",
    "refund": "My refund",
    "damaged": "Damaged or missing item",
    "cancellation": "Cancelling an order",
    "product_question": "Question about a product",
    "other": "Something else",
}


SUBJECT_EXCERPT_CHARS = 80


def ticket_subject(topic: str, message: str, order_id: str | None) -> str:
    """'Where is my order? · order #1044 · My parcel has not arrived…': a queue row that says what it is."""
    first = re.split(r"(?<=[.!?])\s+|\n", message.strip(), maxsplit=1)[0].strip()
    if len(first) > SUBJECT_EXCERPT_CHARS:
        first = first[:SUBJECT_EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    parts = [TOPIC_SUBJECTS[topic], f"order {order_id}" if order_id else "", first]
    return " · ".join(part for part in parts if part)


class ContactSubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Chosen by the form once per visit, so a double click or a retry re-sends the same ticket.
    submission_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    session_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    topic: ContactTopic
    message: str = Field(min_length=10, max_length=5000)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = Field(None, max_length=300)
    channel: Channel | None = Field(
        None,
        description="Where the order was bought: the ticket's channel, so its reply follows that channel's "
        "rules (the ticket id's 'web-' prefix keeps where it came in); none = the web shop",
    )
    order_id: str | None = Field(None, max_length=100)
    locale: Locale = "en"

    @field_validator("message", "email", "order_id", "name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class ContactSubmitResult(BaseModel):
    ticket_id: str
    outcome: Literal["created", "updated", "unchanged"]
    linked_to_earlier_contact: bool = Field(
        description="a likely duplicate of this customer's earlier ticket exists"
    )


def submit_contact(
    session: Session, engine: SearchEngine, *, tenant_id: str, request: ContactSubmitRequest, window_days: int
) -> ContactSubmitResult:
    """'I still need help': one web ticket through the tickets service (duplicate check included),
    and the session's `submitted` event in the same transaction, so the report never misses a contact.

    The same `submission_id` again (a double click, a retry, a second thought) may add to the ticket,
    never replace it: a new message is appended, everything else stays as first sent. A resubmission
    under another e-mail address is refused, so a public key cannot re-point someone's ticket.
    """

    history = _history_service()
    if history is None:
        raise NotFoundError("ticket intake is not installed in this build")

    tag = TOPIC_TAGS[request.topic][0]
    ticket_id = f"web-{request.submission_id}"
    try:
        existing = history.get_ticket(session, tenant_id=tenant_id, ticket_id=ticket_id)
    except NotFoundError:
        existing = None
    if existing is None:
        ticket_in = TicketCreate(
            id=ticket_id,
            channel=request.channel or "web",
            customer=ContactIn(email=request.email, name=request.name),
            order_id=request.order_id,
            subject=ticket_subject(request.topic, request.message, request.order_id),
            body=request.message,
            locale=request.locale.split("-")[0],
            tags=[tag],
        )
    else:
        first_email = normalise_email(str((existing.contact or {}).get("email") or ""))
        if first_email != normalise_email(request.email):
            raise ConflictError(
                "this submission was sent from another e-mail address; start a new form for this one"
            )
        added = request.message not in existing.body
        ticket_in = TicketCreate(
            id=ticket_id,
            channel=existing.channel,
            customer=ContactIn.model_validate(existing.contact or {}),
            order_id=existing.order_id or request.order_id,
            subject=existing.subject,
            body=f"{existing.body}\n\n{request.message}" if added else existing.body,
            locale=existing.locale,
            tags=list(existing.tags),
        )
    result = history.ingest_tickets(
        session, engine, tenant_id=tenant_id, tickets=[ticket_in], window_days=window_days
    )[0]
    if result.outcome == "created":
        record_events(
            session,
            tenant_id=tenant_id,
            events=[
                DeflectionEventCreate(
                    session_id=request.session_id,
                    kind="submitted",
                    source="contact_form",
                    topic=tag,
                    channel=request.channel,
                    locale=request.locale,
                    customer_email=request.email,
                    ticket_id=result.ticket.id,
                )
            ],
        )
    return ContactSubmitResult(
        ticket_id=result.ticket.id,
        outcome=result.outcome,
        linked_to_earlier_contact=any(d.is_duplicate for d in result.duplicates),
    )
