"""Request/response shapes of the customer history, apart from the ORM models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schemas import MAX_TEXT_CHARS, Channel, Locale, Tag, clean_text

IdentityKind = Literal["email", "marketplace_id", "phone", "name_address"]
TicketStatus = Literal["open", "pending", "solved", "closed", "merged"]
EXTERNAL_ID = r"^[A-Za-z0-9._:#/\-]+$"
# Ticket ids appear in URL paths, so no '#' or '/'.
TICKET_ID = r"^[A-Za-z0-9._:\-]+$"
EARLIEST_CONTACT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_CONTACT = datetime(2200, 1, 1, tzinfo=UTC)


def _to_datetime(value: object) -> object:
    """Dates without a time ('2026-11-25') mean midnight UTC; naive datetimes are UTC."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ContactIn(BaseModel):
    """Who wrote or ordered, as the channel reports it."""

    model_config = ConfigDict(extra="ignore")

    email: str | None = Field(None, max_length=320)
    name: str | None = Field(None, max_length=300)
    marketplace_customer_id: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=1000)


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sku: str = Field("", max_length=100)
    title: str = Field("", max_length=500)
    qty: int = Field(1, ge=0, le=100_000)
    price: float = Field(0.0, ge=0)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    carrier: str = Field("", max_length=100)
    tracking_number: str | None = Field(None, max_length=100)
    status: str = Field("", max_length=50)
    eta: datetime | None = None
    status_at: datetime | None = None
    location: str | None = Field(None, max_length=300)

    _dates = field_validator("eta", "status_at", mode="before")(lambda v: _to_datetime(v))


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refund_id: str = Field(min_length=1, max_length=100)
    status: str = Field("", max_length=50)
    amount: float = Field(0.0, ge=0)


class OrderCreate(BaseModel):
    """One line of orders.jsonl."""

    model_config = ConfigDict(extra="ignore")

    order_id: str = Field(min_length=1, max_length=100, pattern=EXTERNAL_ID)
    channel: Channel
    customer: ContactIn = Field(default_factory=ContactIn)
    placed_at: datetime | None = None
    status: str = Field("", max_length=50)
    items: list[OrderItemIn] = Field(default_factory=list, max_length=500)
    currency: str = Field("EUR", min_length=3, max_length=3)
    shipment: ShipmentIn | None = None
    refund: RefundIn | None = None

    _dates = field_validator("placed_at", mode="before")(lambda v: _to_datetime(v))


class TicketCreate(BaseModel):
    """One line of tickets.jsonl, or one ticket posted to the API."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200, pattern=TICKET_ID)
    channel: Channel
    thread_id: str | None = Field(None, max_length=200)
    customer: ContactIn = Field(default_factory=ContactIn)
    order_id: str | None = Field(None, max_length=100)
    subject: str = Field("", max_length=1000)
    body: str = Field(max_length=MAX_TEXT_CHARS)
    created_at: datetime | None = None
    locale: Locale = "en"
    tags: list[Tag] = Field(default_factory=list, max_length=11)
    status: TicketStatus = "open"
    resolution: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    resolved_by_article: str | None = Field(None, max_length=200)
    handling_seconds: float | None = Field(None, ge=0)

    _dates = field_validator("created_at", mode="before")(lambda v: _to_datetime(v))

    @field_validator("created_at")
    @classmethod
    def _plausible_date(cls, value: datetime | None) -> datetime | None:
        # Duplicate windows and reports do date arithmetic: year 1 or 9999 would overflow it.
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and not EARLIEST_CONTACT <= value <= LATEST_CONTACT:
            raise ValueError(f"created_at must lie between {EARLIEST_CONTACT:%Y} and {LATEST_CONTACT:%Y}")
        return value

    @field_validator("body")
    @classmethod
    def _clean_body(cls, value: str) -> str:
        return clean_text(value, max_chars=MAX_TEXT_CHARS, field="body")


class IdentityRead(BaseModel):
    id: int
    kind: str
    value: str
    reason: str
    evidence: dict[str, Any]
    linked_by: str
    created_at: datetime
    unlinked_at: datetime | None


class DuplicateCandidate(BaseModel):
    ticket_id: str
    channel: str
    customer_id: int | None
    created_at: datetime
    subject: str
    score: float
    is_duplicate: bool = Field(description="score >= the calibrated threshold")
    similarity: float = Field(description="cosine similarity of the two messages")
    reasons: list[str]


class DuplicatesRead(BaseModel):
    ticket_id: str
    threshold: float
    window_days: int
    candidates: list[DuplicateCandidate]


class TicketRead(BaseModel):
    id: str
    channel: str
    thread_id: str | None
    customer_id: int | None
    order_id: str | None
    subject: str
    body: str
    locale: str
    tags: list[str]
    tag_source: str
    status: str
    created_at: datetime
    merge_group_id: int | None


class TicketPage(BaseModel):
    items: list[TicketRead] = Field(description="newest first")
    limit: int
    next_cursor: str | None = Field(description="`cursor` for the next, older page; null on the last")


class IngestResult(BaseModel):
    ticket: TicketRead
    outcome: Literal["created", "updated", "unchanged"]
    link: str = Field(description="how the ticket was tied to its customer")
    duplicates: list[DuplicateCandidate]


class TicketBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: list[TicketCreate] = Field(min_length=1, max_length=1000)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_ids: list[str] = Field(min_length=2, max_length=50)
    reason: str = Field("", max_length=2000)


class CourtesyNote(BaseModel):
    ticket_id: str
    channel: str
    locale: str
    text: str
    macro_key: str | None = Field(None, description="the locked macro it was rendered from")
    macro_locale: str | None = Field(None, description="the macro's language (English when none matches)")
    macro_version: int | None = Field(None, description="the macro version used (absent on older notes)")


class MergeRead(BaseModel):
    id: int
    status: str
    primary_ticket_id: str
    ticket_ids: list[str]
    reason: str
    created_by: str
    created_at: datetime
    notes: list[CourtesyNote]


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity_id: int
    customer_id: int
    reason: str = Field(min_length=1, max_length=2000)


class UnlinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class TimelineEvent(BaseModel):
    at: datetime
    kind: Literal["order", "shipment", "refund", "message", "merge", "unmerge"]
    channel: str | None
    ref: str = Field(description="order id, ticket id, refund id or merge group id")
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class CustomerHistory(BaseModel):
    customer_id: int
    name: str
    identities: list[IdentityRead]
    events: list[TimelineEvent]


class RateRow(BaseModel):
    key: str
    tickets: int
    repeats: int
    rate: float


class RepeatContactsReport(BaseModel):
    within_days: int
    since: datetime
    until: datetime
    overall: RateRow
    by_reason: list[RateRow]
    by_channel: list[RateRow]


class ReasonCount(BaseModel):
    reason: str
    count: int
    auto_tagged: int


class TopReasonsReport(BaseModel):
    until: datetime
    periods: dict[str, dict[str, list[ReasonCount]]] = Field(
        description="'30d'/'60d'/'90d' -> channel -> the top 5 reasons"
    )


class IngestResponse(BaseModel):
    results: list[IngestResult]


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)
