"""Request/response shapes of the knowledge base, apart from the ORM models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.schemas import MAX_QUERY_CHARS, Channel, Locale, UtcDateTime, clean_text


class ArticleBase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, max_length=200_000)
    locale: Locale = "en"
    channels: list[Channel] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, max_length=20)
    url: str | None = Field(None, max_length=2000)
    updated_at: UtcDateTime | None = None

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class ArticleCreate(ArticleBase):
    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")


class ArticleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=500)
    body: str | None = Field(None, min_length=1, max_length=200_000)
    locale: Locale | None = None
    channels: list[Channel] | None = None
    tags: list[str] | None = None
    url: str | None = None


class ArticleRead(BaseModel):
    id: str
    title: str
    body: str
    locale: str
    channels: list[str]
    tags: list[str]
    url: str | None
    updated_at: datetime


class ArticlePage(BaseModel):
    items: list[ArticleRead]
    total: int
    offset: int
    limit: int


class SuggestionRead(BaseModel):
    id: str
    title: str
    url: str | None
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) offsets of matched words in the snippet"
    )
    score: float
    confidence: float
    locale: str
    channels: list[str]
    tags: list[str]


class SuggestResult(BaseModel):
    query: str
    abstained: bool
    threshold: float
    language: str | None = Field(None, description="The query's language (detected, else the locale's)")
    suggestions: list[SuggestionRead]
    ranker: str = Field(
        "hand", description="What ordered the list: tenant:v<N> (its learned model), global, or hand"
    )
    took_ms: float


class SuggestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="What the customer typed", max_length=MAX_QUERY_CHARS)
    channel: Channel | None = None
    locale: Locale | None = None
    top_k: int = Field(5, ge=1, le=20)

    @field_validator("query")
    @classmethod
    def _clean_query(cls, value: str) -> str:
        return clean_text(value, max_chars=MAX_QUERY_CHARS, field="query")
