"""Deflection events in, an honest deflection rate out.

Definition (also in the report's `definition` field): a session *saw suggestions* when it has at
least one impression. It was *deflected* when no ticket followed within `window_hours` of its first
impression: neither a `submitted` event in the same session nor, when the customer gave an e-mail,
a submission or a ticket on any channel from that customer. Sessions whose window is still open
are reported as pending and left out of the rate, so a fresh day never looks better than it was.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInputError
from core.schemas import Channel, Locale
from kb.events import EVENT_KINDS, SOURCES, DeflectionEvent

EventKind = Literal["impression", "click", "helpful", "not_helpful", "contact_anyway", "submitted"]
Source = Literal["widget", "help_centre", "contact_form"]
Bucket = Literal["day", "week"]
MAX_EVENTS_PER_REQUEST = 100
MAX_SHOWN_ARTICLES = 20
MAX_REPORT_DAYS = 366
DEFINITION = (
    "Deflection rate = sessions that saw suggestions and did not lead to a ticket within {hours} h of "
    "their first impression (same session, or the same customer e-mail on any channel), divided by "
    "all sessions that saw suggestions and whose {hours} h window has closed."
)


class DeflectionEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    kind: EventKind
    source: Source = "widget"
    topic: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+$")
    channel: Channel | None = None
    locale: Locale | None = None
    query: str | None = Field(None, max_length=2000)
    article_id: str | None = Field(None, max_length=200)
    article_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None,
        max_length=MAX_SHOWN_ARTICLES,
        description="impression only: every article shown, best first (article_id defaults to the first)",
    )
    customer_email: str | None = Field(None, max_length=320)
    ticket_id: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _shown_articles(self) -> Self:
        if self.article_ids is None:
            return self
        if self.kind != "impression":
            raise ValueError("article_ids belongs to impression events only")
        if len(set(self.article_ids)) != len(self.article_ids):
            raise ValueError("article_ids repeats an article")
        if self.article_id is None and self.article_ids:
            self.article_id = self.article_ids[0]
        elif self.article_id is not None and self.article_id not in self.article_ids:
            raise ValueError("article_id must be one of article_ids")
        return self

    @field_validator("customer_email")
    @classmethod
    def _normalise_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        if "@" not in value:
            raise ValueError("customer_email must be an e-mail address")
        return value


class DeflectionEventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[DeflectionEventCreate] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class EventsAccepted(BaseModel):
    accepted: int


class DeflectionRow(BaseModel):
    key: str
    sessions: int = Field(description="Sessions that saw suggestions")
    closed: int = Field(description="Sessions whose window has closed")
    deflected: int
    contacted: int
    pending: int
    deflection_rate: float | None = Field(description="deflected / closed; null when no window has closed")
    impressions: int = 0
    clicks: int = 0
    helpful: int = 0
    not_helpful: int = 0
    contact_anyway: int = 0
    submitted: int = 0


class DeflectionReport(BaseModel):
    definition: str
    window_hours: int
    since: datetime
    until: datetime
    bucket: Bucket
    total: DeflectionRow
    by_topic: list[DeflectionRow]
    by_channel: list[DeflectionRow]
    over_time: list[DeflectionRow]


@dataclass
class _SessionFacts:
    first_impression: datetime | None = None
    topic: str | None = None
    channel: str | None = None
    emails: set[str] = field(default_factory=set)
    submitted_at: list[datetime] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def history_contacts(
    session: Session, *, tenant_id: str, emails: set[str], since: datetime, until: datetime
) -> dict[str, list[datetime]]:
    """Ticket times on every channel of the customers these e-mails resolve to (when history exists)."""
    try:
        models = importlib.import_module("history.models")
        identity = importlib.import_module("history.identity")
    except ModuleNotFoundError as exc:
        if exc.name not in ("history", "history.models", "history.identity"):
            raise
        return {}
    Identity, Ticket = models.Identity, models.Ticket
    # History stores e-mails normalised its own way (e.g. without +tags); match on that form.
    by_normal: dict[str, str] = {identity.normalise_email(e) or e: e for e in emails}
    owners: dict[int, set[str]] = defaultdict(set)
    for customer_id, value in session.execute(
        select(Identity.customer_id, Identity.value).where(
            Identity.tenant_id == tenant_id,
            Identity.kind == "email",
            Identity.value.in_(by_normal),
            Identity.unlinked_at.is_(None),
        )
    ):
        owners[customer_id].add(by_normal[value])
    out: dict[str, list[datetime]] = defaultdict(list)
    if owners:
        for customer_id, created_at in session.execute(
            select(Ticket.customer_id, Ticket.created_at).where(
                Ticket.tenant_id == tenant_id,
                Ticket.customer_id.in_(owners),
                Ticket.created_at >= since,
                Ticket.created_at < until,
            )
        ):
            for email in owners[customer_id]:
                out[email].append(created_at)
    return out


def record_events(session: Session, *, tenant_id: str, events: Iterable[DeflectionEventCreate]) -> int:
    """Stores a batch of events stamped with the server's clock; returns how many were stored."""
    now = utcnow()
    rows = [DeflectionEvent(tenant_id=tenant_id, created_at=now, **event.model_dump()) for event in events]
    for row in rows:
        if row.kind not in EVENT_KINDS or row.source not in SOURCES:
            raise InvalidInputError(f"unknown event kind or source: {row.kind}/{row.source}")
    session.add_all(rows)
    session.flush()
    return len(rows)


def _collect(
    session: Session, *, tenant_id: str, since: datetime, until: datetime, window: timedelta
) -> tuple[dict[str, _SessionFacts], dict[str, list[datetime]]]:
    """Per-session facts for sessions that started in [since, until), plus submissions by e-mail."""
    started = (
        select(DeflectionEvent.session_id)
        .where(
            DeflectionEvent.tenant_id == tenant_id,
            DeflectionEvent.kind == "impression",
            DeflectionEvent.created_at >= since,
            DeflectionEvent.created_at < until,
        )
        .distinct()
    )
    facts: dict[str, _SessionFacts] = defaultdict(_SessionFacts)
    rows = session.scalars(
        select(DeflectionEvent)
        .where(DeflectionEvent.tenant_id == tenant_id, DeflectionEvent.session_id.in_(started))
        .order_by(DeflectionEvent.created_at, DeflectionEvent.id)
    )
    for row in rows:
        f = facts[row.session_id]
        f.counts[row.kind] += 1
        if row.kind == "impression" and f.first_impression is None:
            f.first_impression = row.created_at
        f.topic = row.topic or f.topic
        f.channel = f.channel or row.channel
        if row.customer_email:
            f.emails.add(row.customer_email)
        if row.kind == "submitted":
            f.submitted_at.append(row.created_at)
    emails = {e for f in facts.values() for e in f.emails}
    by_email: dict[str, list[datetime]] = defaultdict(list)
    if emails:
        for email, at in session.execute(
            select(DeflectionEvent.customer_email, DeflectionEvent.created_at).where(
                DeflectionEvent.tenant_id == tenant_id,
                DeflectionEvent.kind == "submitted",
                DeflectionEvent.customer_email.in_(emails),
                DeflectionEvent.created_at >= since,
                DeflectionEvent.created_at < until + window,
            )
        ):
            if email is not None:
                by_email[email].append(at)
        for email, times in history_contacts(
            session, tenant_id=tenant_id, emails=emails, since=since, until=until + window
        ).items():
            by_email[email].extend(times)
    return facts, by_email


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _bucket_key(at: datetime, bucket: Bucket) -> str:
    day = at.date()
    if bucket == "week":
        day = day - timedelta(days=day.weekday())
    return day.isoformat()


def _row(key: str, sessions: list[tuple[_SessionFacts, str]]) -> DeflectionRow:
    row = DeflectionRow(
        key=key, sessions=len(sessions), closed=0, deflected=0, contacted=0, pending=0, deflection_rate=None
    )
    for facts, outcome in sessions:
        if outcome == "contacted":
            row.contacted += 1
            row.closed += 1
        elif outcome == "deflected":
            row.deflected += 1
            row.closed += 1
        else:
            row.pending += 1
        row.impressions += facts.counts["impression"]
        row.clicks += facts.counts["click"]
        row.helpful += facts.counts["helpful"]
        row.not_helpful += facts.counts["not_helpful"]
        row.contact_anyway += facts.counts["contact_anyway"]
        row.submitted += facts.counts["submitted"]
    row.deflection_rate = round(row.deflected / row.closed, 4) if row.closed else None
    return row


def deflection_report(
    session: Session,
    *,
    tenant_id: str,
    window_hours: int,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: Bucket = "day",
) -> DeflectionReport:
    """The deflection rate overall, per topic, per channel and per day or week."""
    now = utcnow()
    until = _aware(until) or now
    since = _aware(since) or until - timedelta(days=30)
    if since >= until:
        raise InvalidInputError("since must be before until")
    if until - since > timedelta(days=MAX_REPORT_DAYS):
        raise InvalidInputError(f"a report covers at most {MAX_REPORT_DAYS} days")
    window = timedelta(hours=window_hours)
    facts, by_email = _collect(session, tenant_id=tenant_id, since=since, until=until, window=window)
    outcomes: list[tuple[_SessionFacts, str]] = []
    for f in facts.values():
        if f.first_impression is None:
            continue
        start, end = f.first_impression, f.first_impression + window
        contacts = f.submitted_at + [at for email in f.emails for at in by_email.get(email, [])]
        if any(start <= at <= end for at in contacts):
            outcome = "contacted"
        elif end > now:
            outcome = "pending"
        else:
            outcome = "deflected"
        outcomes.append((f, outcome))

    def grouped(key_of: Callable[[_SessionFacts], str]) -> list[DeflectionRow]:
        groups: dict[str, list[tuple[_SessionFacts, str]]] = defaultdict(list)
        for item in outcomes:
            groups[key_of(item[0])].append(item)
        return [_row(key, items) for key, items in groups.items()]

    by_topic = sorted(grouped(lambda f: f.topic or "(none)"), key=lambda r: (-r.sessions, r.key))
    by_channel = sorted(grouped(lambda f: f.channel or "(none)"), key=lambda r: (-r.sessions, r.key))
    over_time = sorted(grouped(lambda f: _bucket_key(f.first_impression or now, bucket)), key=lambda r: r.key)
    return DeflectionReport(
        definition=DEFINITION.format(hours=window_hours),
        window_hours=window_hours,
        since=since,
        until=until,
        bucket=bucket,
        total=_row("all", outcomes),
        by_topic=by_topic,
        by_channel=by_channel,
        over_time=over_time,
    )


CSV_COLUMNS = (
    "dimension",
    "key",
    "sessions",
    "closed",
    "deflected",
    "contacted",
    "pending",
    "deflection_rate",
    "impressions",
    "clicks",
    "helpful",
    "not_helpful",
    "contact_anyway",
    "submitted",
)


def report_csv(report: DeflectionReport) -> str:
    """The report as one CSV table: a `dimension` column says which breakdown each row belongs to."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    sections = [
        ("total", [report.total]),
        ("topic", report.by_topic),
        ("channel", report.by_channel),
        (report.bucket, report.over_time),
    ]
    for dimension, rows in sections:
        for row in rows:
            data = row.model_dump()
            writer.writerow(
                [dimension] + ["" if data[c] is None else _csv_safe(data[c]) for c in CSV_COLUMNS[1:]]
            )
    return out.getvalue()


def _csv_safe(value: object) -> object:
    # Topic keys come from clients; a leading "=" would run as a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
