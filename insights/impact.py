"""Before/after impact of a help article or macro changed on a date, measured on its reason.

Two equal windows meet at the change: [date - days, date) and [date, date + days). When the second has not
fully elapsed, both shrink to the time elapsed since the change, so the comparison stays like for like.
Per window: contacts (tickets with the reason), the deflection rate of sessions whose topic is the reason
(definition of GET /v1/reports/deflection) and the repeat-contact rate of the reason (definition of
GET /v1/reports/repeat-contacts), each with its sample size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError
from core.schemas import TAGS
from history.models import Ticket
from insights.contacts import repeat_contacts
from kb.deflection import deflection_report
from kb.models import Article
from replies.models import Macro, MacroVersion

MAX_DAYS = 180


class ImpactWindow(BaseModel):
    since: datetime
    until: datetime
    contacts: int = Field(description="Tickets with the reason")
    contacts_per_day: float
    deflection_sessions: int = Field(
        description="Sessions on the reason's topic whose deflection window closed"
    )
    deflected: int
    deflection_rate: float | None
    repeat_base: int = Field(description="Tickets of known customers with the reason (repeat-rate sample)")
    repeats: int
    repeat_rate: float | None


class ImpactDelta(BaseModel):
    contacts: int
    contacts_per_day: float
    deflection_rate: float | None = Field(description="after - before; null when either side has no sample")
    repeat_rate: float | None


class ImpactReport(BaseModel):
    kind: Literal["article", "macro"]
    id: str
    reason: str
    changed_at: datetime
    days: float = Field(description="Length of each window in days")
    complete: bool = Field(description="False when the windows were shortened because the change is recent")
    before: ImpactWindow
    after: ImpactWindow
    delta: ImpactDelta


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _subject(
    session: Session, *, tenant_id: str, article_id: str | None, macro_key: str | None
) -> tuple[Literal["article", "macro"], str, list[str], datetime]:
    """(kind, id, tags, when it last changed)."""
    if bool(article_id) == bool(macro_key):
        raise InvalidInputError("give exactly one of article_id and macro_key")
    if article_id:
        article = session.scalar(
            select(Article).where(Article.tenant_id == tenant_id, Article.external_id == article_id)
        )
        if article is None:
            raise NotFoundError(f"article {article_id!r} not found")
        return "article", article_id, list(article.tags), article.source_updated_at or article.updated_at
    key = str(macro_key)
    macros = list(session.scalars(select(Macro).where(Macro.tenant_id == tenant_id, Macro.key == key)))
    if not macros:
        raise NotFoundError(f"macro {key!r} not found")
    changed = session.scalar(
        select(func.max(MacroVersion.created_at)).where(MacroVersion.macro_id.in_([m.id for m in macros]))
    )
    tags = [t for m in macros for t in m.tags] + ([key] if key in TAGS else [])
    return "macro", key, tags, changed or macros[0].created_at


def _window(
    session: Session,
    *,
    tenant_id: str,
    reason: str,
    since: datetime,
    until: datetime,
    repeat_days: int,
    deflection_hours: int,
) -> ImpactWindow:
    tags = session.scalars(
        select(Ticket.tags).where(
            Ticket.tenant_id == tenant_id, Ticket.created_at >= since, Ticket.created_at < until
        )
    )
    contacts = sum(reason in (t or ["other"]) for t in tags)
    days = (until - since).total_seconds() / 86400
    deflection = deflection_report(
        session, tenant_id=tenant_id, window_hours=deflection_hours, since=since, until=until
    )
    topic = next((r for r in deflection.by_topic if r.key == reason), None)
    repeats = repeat_contacts(
        session,
        tenant_id=tenant_id,
        within_days=repeat_days,
        since=since,
        until=until - timedelta(microseconds=1),
    )
    repeat = next((r for r in repeats.by_reason if r.key == reason), None)
    return ImpactWindow(
        since=since,
        until=until,
        contacts=contacts,
        contacts_per_day=round(contacts / days, 3),
        deflection_sessions=topic.closed if topic else 0,
        deflected=topic.deflected if topic else 0,
        deflection_rate=topic.deflection_rate if topic else None,
        repeat_base=repeat.tickets if repeat else 0,
        repeats=repeat.repeats if repeat else 0,
        repeat_rate=repeat.rate if repeat and repeat.tickets else None,
    )


def _diff(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(after - before, 4)


def impact(
    session: Session,
    *,
    tenant_id: str,
    article_id: str | None = None,
    macro_key: str | None = None,
    date: datetime | None = None,
    days: int = 28,
    reason: str | None = None,
    repeat_days: int,
    deflection_hours: int,
) -> ImpactReport:
    """Compares equal windows before and after the change (default date: when it last changed)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be between 1 and {MAX_DAYS}")
    kind, subject_id, tags, changed = _subject(
        session, tenant_id=tenant_id, article_id=article_id, macro_key=macro_key
    )
    reason = reason or (tags[0] if tags else None)
    if reason not in TAGS:
        raise InvalidInputError(
            f"{kind} {subject_id!r} has no reason tag; pass reason= (one of {', '.join(TAGS)})"
        )
    at = _aware(date or changed)
    now = utcnow()
    span = timedelta(days=days)
    if at + span > now:
        span = now - at
        if span < timedelta(hours=1):
            raise InvalidInputError(
                f"the change on {at.isoformat()} is less than an hour old; nothing to compare"
            )
    before, after = (
        _window(
            session,
            tenant_id=tenant_id,
            reason=reason,
            since=since,
            until=since + span,
            repeat_days=repeat_days,
            deflection_hours=deflection_hours,
        )
        for since in (at - span, at)
    )
    return ImpactReport(
        kind=kind,
        id=subject_id,
        reason=reason,
        changed_at=at,
        days=round(span.total_seconds() / 86400, 3),
        complete=span == timedelta(days=days),
        before=before,
        after=after,
        delta=ImpactDelta(
            contacts=after.contacts - before.contacts,
            contacts_per_day=round(after.contacts_per_day - before.contacts_per_day, 3),
            deflection_rate=_diff(after.deflection_rate, before.deflection_rate),
            repeat_rate=_diff(after.repeat_rate, before.repeat_rate),
        ),
    )
