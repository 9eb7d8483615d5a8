"""Knowledge-base articles and their searchable chunks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import Base, TenantMixin, TimestampMixin


class Article(TenantMixin, TimestampMixin, Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(String(2000))
    source_updated_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))

    chunks: Mapped[list[ArticleChunk]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleChunk.position"
    )


class ArticleChunk(TenantMixin, Base):
    """The unit of vector search; suggestions are grouped back to whole articles."""

    __tablename__ = "article_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(100))

    article: Mapped[Article] = relationship(back_populates="chunks")


class PublishOverride(TenantMixin, Base):
    """An admin published a marketplace article despite blocking compliance violations: who, when, why."""

    __tablename__ = "article_publish_overrides"
    __table_args__ = (Index("ix_article_publish_overrides_article", "tenant_id", "article_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    # The blocking violations overridden: [{rule, text}], as they were at the time.
    violations: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RankerModel(TenantMixin, Base):
    """A tenant's learned article ranker (kb/learned.py), newest version serves.

    In the database rather than a file under the data dir: API replicas are stateless and share one
    PostgreSQL, so a model `deflect tune` or a worker trained is served by every replica at once.
    The model is JSON (no pickle from a table) with its SHA-256, checked on every load.
    """

    __tablename__ = "ranker_models"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    model_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # Resolved tickets plus feedback events the tenant had when it was trained: the retraining trigger
    # counts what arrived since.
    events_seen: Mapped[int] = mapped_column(Integer, default=0)
    replay: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
