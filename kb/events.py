"""Deflection events: what a customer saw and did in the widget and contact form, per browser session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, TenantMixin

EVENT_KINDS: tuple[str, ...] = (
    "impression",
    "click",
    "helpful",
    "not_helpful",
    "contact_anyway",
    "submitted",
)
SOURCES: tuple[str, ...] = ("widget", "help_centre", "contact_form")
# Sessions that `deflect demo` generates carry this id prefix: demo data, never measurements.
DEMO_SESSION_PREFIX = "demo-seed-"


class DeflectionEvent(TenantMixin, Base):
    """One event; the server stamps the time so a client cannot move events in or out of a window."""

    __tablename__ = "deflection_events"
    __table_args__ = (
        Index("ix_deflection_events_tenant_session", "tenant_id", "session_id"),
        Index("ix_deflection_events_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(24), default="widget")
    topic: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(20))
    query: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[str | None] = mapped_column(String(200))
    # Every article an impression showed, best first: the click prior needs each one's position,
    # not only the top one's (kb/feedback.py). Null on other kinds and on older impressions.
    article_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # Set by the contact form once the customer typed it: lets the report count this person's
    # contacts on other channels against the session, not only the form's own submission.
    customer_email: Mapped[str | None] = mapped_column(String(320))
    ticket_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
