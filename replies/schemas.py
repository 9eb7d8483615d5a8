"""Request/response shapes for macros, drafts and the macro report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from compliance.schemas import ComplianceResult
from core.schemas import MAX_TEXT_CHARS, Channel, Locale, RowIdInt, clean_text


class MacroVersionCreate(BaseModel):
    """Body of an admin's macro change: always a new version."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5000)
    note: str = Field("", max_length=1000)


class MacroRead(BaseModel):
    key: str
    channel: str
    locale: str
    tags: list[str]
    version: int
    body: str
    created_by: str
    created_at: datetime


class MacroVersionRead(BaseModel):
    version: int
    body: str
    created_by: str
    note: str
    created_at: datetime


class MacroDetail(MacroRead):
    versions: list[MacroVersionRead]


class MacroPage(BaseModel):
    items: list[MacroRead]
    total: int


class DraftCreate(BaseModel):
    """A ticket id, or the customer's words with their channel; the order/customer help pick the facts."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    channel: Channel | None = None
    locale: Locale | None = None
    customer_id: RowIdInt | None = None
    order_id: str | None = Field(None, max_length=100)
    rewrite: bool = Field(True, description="Polish with the configured rewriter when one is set")

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value, max_chars=MAX_TEXT_CHARS, field="text")

    @model_validator(mode="after")
    def _ticket_or_text(self) -> DraftCreate:
        if self.ticket_id is None and (self.text is None or self.channel is None):
            raise ValueError("send a ticket_id, or text together with channel")
        return self


class QuestionCoverage(BaseModel):
    topic: str
    text: str
    status: Literal["answered", "needs_agent"]
    reason: str
    order_id: str | None
    macro: str | None
    article_id: str | None
    confidence: float = Field(
        0.0, description="How sure the paragraph is (reason and answer); under the floor it is left out"
    )
    source: str = Field(
        "", description="What the paragraph rests on: macro and version, order facts, article"
    )


class NeedsYou(BaseModel):
    """One thing an agent must do before the draft can be sent, and why."""

    topic: str | None = Field(
        description="The question's reason tag, or None for a problem of the whole reply"
    )
    text: str
    reason: str


class FactUsed(BaseModel):
    name: str
    value: str
    source: str


class ArticleCited(BaseModel):
    id: str
    title: str
    url: str | None
    locale: str


class MacroUsed(BaseModel):
    key: str
    channel: str
    locale: str
    version: int


class FactCheckRead(BaseModel):
    passed: bool
    checked: int
    unsupported: list[str]


class RewriteRead(BaseModel):
    attempted: bool
    accepted: bool
    reason: str


class DraftRead(BaseModel):
    id: int
    ticket_id: str | None
    channel: str
    locale: str
    customer_id: int | None
    reply: str
    ready_to_send: bool = Field(
        description="Every question answered above the confidence floor, facts verified and kept, "
        "and no violation left after the safe fixes"
    )
    needs_you: list[NeedsYou] = Field(default_factory=list, description="Why the draft is not ready, if not")
    questions: list[QuestionCoverage]
    facts: list[FactUsed]
    articles: list[ArticleCited]
    macros: list[MacroUsed]
    fact_check: FactCheckRead
    compliance: ComplianceResult
    rewrite: RewriteRead
    took_ms: float


class DraftCheckCreate(BaseModel):
    """An agent's edited text of a draft, checked again before it is sent."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class DraftCheckRead(BaseModel):
    draft_id: int
    compliance: ComplianceResult
    fact_check: FactCheckRead
    missing_facts: list[str] = Field(description="Order facts the draft quoted that the edit removed")
    unanswered_topics: list[str]
    ready_to_send: bool


class MacroUsage(BaseModel):
    key: str
    uses: int
    versions: dict[str, int]
    contacts_with_customer: int
    first_contact_resolved: int
    fcr_rate: float | None


class TagUsage(BaseModel):
    tag: str
    uses: int
    contacts_with_customer: int
    first_contact_resolved: int
    fcr_rate: float | None
    avg_handling_seconds: float | None
    tickets_with_handling_time: int


class MacroReport(BaseModel):
    since: datetime | None
    until: datetime | None
    window_days: int
    drafts: int
    macros: list[MacroUsage]
    tags: list[TagUsage]
