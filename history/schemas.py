"""Request/response shapes of the customer history, apart from the ORM models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, field_validator, model_validator
from pydantic import Tag as UnionTag

from core.schemas import (
    MAX_TEXT_CHARS,
    Amount,
    Channel,
    Locale,
    RowIdInt,
    Seconds,
    Tag,
    UtcDateTime,
    clean_text,
)

IdentityKind = Literal["email", "marketplace_id", "phone", "name_address"]
TicketStatus = Literal["open", "pending", "solved", "closed", "merged"]
# Help desks name the same states differently (Freshdesk "resolved", Zendesk "new" and "on-hold").
_STATUS_NAMES = {
    "resolved": "solved",
    "new": "open",
    "hold": "pending",
    "on-hold": "pending",
    "on hold": "pending",
}
EXTERNAL_ID = r"^[A-Za-z0-9._:#/\-]+$"
# Ticket ids appear in URL paths, so no '#' or '/'.
TICKET_ID = r"^[A-Za-z0-9._:\-]+$"


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
    price: Amount = Field(0.0, ge=0)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    carrier: str = Field("", max_length=100)
    tracking_number: str | None = Field(None, max_length=100)
    status: str = Field("", max_length=50)
    eta: UtcDateTime | None = None
    status_at: UtcDateTime | None = None
    location: str | None = Field(None, max_length=300)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refund_id: str = Field(min_length=1, max_length=100)
    status: str = Field("", max_length=50)
    amount: Amount = Field(0.0, ge=0)
    processed_at: UtcDateTime | None = Field(None, description="When the refund was processed")


class OrderCreate(BaseModel):
    """One line of orders.jsonl."""

    model_config = ConfigDict(extra="ignore")

    order_id: str = Field(min_length=1, max_length=100, pattern=EXTERNAL_ID)
    channel: Channel
    customer: ContactIn = Field(default_factory=ContactIn)
    placed_at: UtcDateTime | None = None
    status: str = Field("", max_length=50)
    items: list[OrderItemIn] = Field(default_factory=list, max_length=500)
    currency: str = Field("EUR", min_length=3, max_length=3)
    shipment: ShipmentIn | None = None
    refund: RefundIn | None = None
    fulfillment: Literal["FBA", "FBM"] | None = Field(
        None, description="Amazon orders: FBA (fulfilled by Amazon) or FBM (merchant); AFN/MFN accepted"
    )

    @field_validator("fulfillment", mode="before")
    @classmethod
    def _fulfillment(cls, value: object) -> object:
        # Amazon's reports say AFN (Amazon-fulfilled network) and MFN (merchant-fulfilled network).
        aliases = {"afn": "FBA", "amazon": "FBA", "fba": "FBA", "mfn": "FBM", "merchant": "FBM", "fbm": "FBM"}
        return aliases.get(value.strip().lower(), value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _fulfilled_by_amazon(cls, data: object) -> object:
        # Some exports carry a flag instead: "fulfilled_by_amazon": true / "is_fba": false.
        if isinstance(data, dict) and data.get("fulfillment") is None:
            flag = data.get("fulfilled_by_amazon", data.get("is_fba"))
            if isinstance(flag, bool):
                return {**data, "fulfillment": "FBA" if flag else "FBM"}
        return data


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
    created_at: UtcDateTime | None = None
    locale: Locale = "en"
    tags: list[Tag] = Field(default_factory=list, max_length=11)
    status: TicketStatus = "open"
    resolution: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    resolved_by_article: str | None = Field(None, max_length=200)
    handling_seconds: Seconds | None = None

    @field_validator("body")
    @classmethod
    def _clean_body(cls, value: str) -> str:
        return clean_text(value, max_chars=MAX_TEXT_CHARS, field="body")

    @field_validator("status", mode="before")
    @classmethod
    def _status_name(cls, value: object) -> object:
        if isinstance(value, str):
            name = value.strip().lower()
            return _STATUS_NAMES.get(name, name)
        return value


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


def _ticket_body_kind(value: Any) -> str:
    return "ticket:batch" if isinstance(value, dict) and "tickets" in value else "ticket:single"


# One ticket or a batch, told apart by the `tickets` key, so a bad single ticket's error names its own
# field (created_at, body...) instead of the batch's missing `tickets`. Tags read "union:member" and
# are left out of error messages (api/errors.py).
TicketBody = Annotated[
    Annotated[TicketBatch, UnionTag("ticket:batch")] | Annotated[TicketCreate, UnionTag("ticket:single")],
    Discriminator(_ticket_body_kind),
]


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

    identity_id: RowIdInt
    customer_id: RowIdInt
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
