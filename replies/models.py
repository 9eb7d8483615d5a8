"""Locked macros (immutable versions) and the drafts composed from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from core.clock import utcnow
from core.db import Base, TenantMixin
from core.errors import ConflictError


class Macro(TenantMixin, Base):
    """One reply macro for a reason, channel ("*" = any) and locale; its text lives in versions."""

    __tablename__ = "macros"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "channel", "locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="*")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[MacroVersion]] = relationship(
        back_populates="macro", order_by="MacroVersion.version", cascade="save-update, merge"
    )


class MacroVersion(TenantMixin, Base):
    """A macro's text at one point in time; never updated or deleted, so old drafts stay explainable."""

    __tablename__ = "macro_versions"
    __table_args__ = (UniqueConstraint("macro_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    macro_id: Mapped[int] = mapped_column(ForeignKey("macros.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    macro: Mapped[Macro] = relationship(back_populates="versions")


@event.listens_for(MacroVersion, "before_update")
def _versions_are_immutable(_mapper: Mapper[Any], _connection: Connection, target: MacroVersion) -> None:
    raise ConflictError(f"macro version {target.id} is immutable; save a new version instead")


@event.listens_for(MacroVersion, "before_delete")
def _versions_are_kept(_mapper: Mapper[Any], _connection: Connection, target: MacroVersion) -> None:
    raise ConflictError(f"macro version {target.id} cannot be deleted; drafts may refer to it")


class Draft(TenantMixin, Base):
    """A composed reply as the agent first saw it, with card numbers, IBANs and secrets redacted."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    order_id: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    coverage: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    macro_versions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    articles: Mapped[list[str]] = mapped_column(JSON, default=list)
    compliance_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    rewritten: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the customer wrote (the ticket's time, else the draft's): repeat contacts are counted from here.
    contact_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_key: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
