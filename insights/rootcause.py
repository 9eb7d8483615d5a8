"""The weekly review's root-cause table: per reason and channel over 30/60/90 days, with the lead's notes.

Definitions (also returned in the report's `definitions`):
- volume: tickets carrying the reason (a ticket with two reasons counts for both), created in the period;
- share: volume / all tickets of that channel in the period ("all" rows: of every channel);
- repeat rate: share of those tickets whose customer had already written about the same reason within the
  previous N days (N = DEFLECT_REPEAT_CONTACT_DAYS), the definition of GET /v1/reports/repeat-contacts;
- first-contact resolution: share of those tickets that are solved or closed and were not followed by another
  ticket from the same customer about the same reason within N days (follow-ups seen so far);
- average handling time: over the tickets whose handling_seconds is known (`handling_known` says how many);
- top SKUs: the items of the tickets' orders, by number of tickets.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.clock import utcnow
from core.errors import InvalidInputError
from core.schemas import CHANNELS, TAGS
from history.models import Order, RootCauseNote, Ticket

PERIODS = (30, 60, 90)
ALL = "all"
TOP_SKUS = 3
RESOLVED = frozenset({"solved", "closed"})
DEFINITIONS = {
    "volume": "tickets with this reason created in the period (a ticket with two reasons counts for both)",
    "share": "volume / all tickets of the row's channel in the period (channel 'all': of every channel)",
    "repeat_rate": "share of these tickets whose customer wrote about the same reason in the previous "
    "{days} days",
    "fcr_rate": "share of these tickets solved or closed with no further ticket from the same customer "
    "about the "
    "same reason within {days} days",
    "avg_handling_seconds": "mean handling time over the tickets where it is known (handling_known)",
    "top_skus": "items of the tickets' orders, by number of tickets",
}


class RootCauseNoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root_cause: str = Field(max_length=5000, description="Why customers contact us about this")
    action_owner: str = Field("", max_length=200, description="Who acts on it (a person or team)")


class RootCauseNoteRead(BaseModel):
    reason: str
    channel: str
    root_cause: str
    action_owner: str
    set_by: str
    set_at: datetime


class SkuCount(BaseModel):
    sku: str
    title: str
    tickets: int


class RootCauseRow(BaseModel):
    reason: str
    channel: str
    volume: int
    share: float
    repeat_contacts: int
    repeat_rate: float
    first_contact_resolved: int
    fcr_rate: float
    handling_known: int
    avg_handling_seconds: float | None
    top_skus: list[SkuCount]
    note: RootCauseNoteRead | None


class RootCauseReport(BaseModel):
    until: datetime
    repeat_within_days: int
    definitions: dict[str, str]
    periods: dict[str, list[RootCauseRow]] = Field(description='"30d", "60d", "90d": rows by volume')


@dataclass
class _Acc:
    volume: int = 0
    repeats: int = 0
    resolved: int = 0
    handling: list[float] = field(default_factory=list)
    skus: Counter[str] = field(default_factory=Counter)


def _note_read(row: RootCauseNote) -> RootCauseNoteRead:
    return RootCauseNoteRead(
        reason=row.reason,
        channel=row.channel,
        root_cause=row.root_cause,
        action_owner=row.action_owner,
        set_by=row.set_by,
        set_at=row.set_at,
    )


def _check_key(reason: str, channel: str) -> None:
    if reason not in TAGS:
        raise InvalidInputError(f"unknown reason {reason!r}; one of {', '.join(TAGS)}")
    if channel != ALL and channel not in CHANNELS:
        raise InvalidInputError(f"unknown channel {channel!r}; one of {ALL}, {', '.join(CHANNELS)}")


def set_note(
    session: Session, *, tenant_id: str, reason: str, channel: str, note: RootCauseNoteIn, actor: str
) -> RootCauseNoteRead:
    """Adds the current note for (reason, channel); earlier notes stay as its history."""
    _check_key(reason, channel)
    row = RootCauseNote(
        tenant_id=tenant_id,
        reason=reason,
        channel=channel,
        root_cause=note.root_cause.strip(),
        action_owner=note.action_owner.strip(),
        set_by=actor,
        set_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _note_read(row)


def note_history(session: Session, *, tenant_id: str, reason: str, channel: str) -> list[RootCauseNoteRead]:
    """Every note ever set for (reason, channel), newest first."""
    _check_key(reason, channel)
    return [
        _note_read(r)
        for r in session.scalars(
            select(RootCauseNote)
            .where(
                RootCauseNote.tenant_id == tenant_id,
                RootCauseNote.reason == reason,
                RootCauseNote.channel == channel,
            )
            .order_by(RootCauseNote.id.desc())
        )
    ]


def _current_notes(session: Session, *, tenant_id: str) -> dict[tuple[str, str], RootCauseNoteRead]:
    current: dict[tuple[str, str], RootCauseNoteRead] = {}
    for row in session.scalars(
        select(RootCauseNote).where(RootCauseNote.tenant_id == tenant_id).order_by(RootCauseNote.id)
    ):
        current[(row.reason, row.channel)] = _note_read(row)
    return current


def root_causes(
    session: Session,
    *,
    tenant_id: str,
    within_days: int,
    until: datetime | None = None,
    channel: str | None = None,
) -> RootCauseReport:
    """The table for the last 30, 60 and 90 days before `until` (default now)."""
    until = until or utcnow()
    window = timedelta(days=within_days)
    start = until - timedelta(days=max(PERIODS))
    # Earlier tickets decide repeats, later ones (up to now) decide whether a contact was resolved first time.
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.tenant_id == tenant_id,
                Ticket.created_at >= start - window,
                Ticket.created_at <= max(until + window, utcnow()),
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )
    contacts: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for t in tickets:
        if t.customer_id is not None:
            for tag in t.tags or ["other"]:
                contacts[(t.customer_id, tag)].append(t.created_at)
    order_ids = {t.order_id for t in tickets if t.order_id}
    items: dict[str, list[tuple[str, str]]] = {}
    titles: dict[str, str] = {}
    if order_ids:
        for order in session.scalars(
            select(Order)
            .where(Order.tenant_id == tenant_id, Order.order_id.in_(order_ids))
            .options(selectinload(Order.items))
        ):
            items[order.order_id] = [(i.sku, i.title) for i in order.items if i.sku]
            for i in order.items:
                titles.setdefault(i.sku, i.title)
    notes = _current_notes(session, tenant_id=tenant_id)
    periods: dict[str, list[RootCauseRow]] = {}
    for days in PERIODS:
        since = until - timedelta(days=days)
        rows: dict[tuple[str, str], _Acc] = defaultdict(_Acc)
        totals: Counter[str] = Counter()
        for t in tickets:
            if not since <= t.created_at < until:
                continue
            totals[t.channel] += 1
            totals[ALL] += 1
            for tag in t.tags or ["other"]:
                repeat, followed = False, False
                if t.customer_id is not None:
                    times = contacts[(t.customer_id, tag)]
                    first = bisect_left(times, t.created_at - window)
                    repeat = times[first] < t.created_at
                    after = bisect_right(times, t.created_at)
                    followed = after < len(times) and times[after] <= t.created_at + window
                for key in ((tag, t.channel), (tag, ALL)):
                    acc = rows[key]
                    acc.volume += 1
                    acc.repeats += repeat
                    acc.resolved += t.status in RESOLVED and not followed
                    if t.handling_seconds is not None:
                        acc.handling.append(t.handling_seconds)
                    acc.skus.update({sku for sku, _ in items.get(t.order_id or "", [])})
        periods[f"{days}d"] = sorted(
            (
                _row(reason, ch, acc, totals[ch], titles, notes.get((reason, ch)))
                for (reason, ch), acc in rows.items()
                if channel is None or ch == channel
            ),
            key=lambda r: (-r.volume, r.channel != ALL, r.reason, r.channel),
        )
    return RootCauseReport(
        until=until,
        repeat_within_days=within_days,
        definitions={k: v.format(days=within_days) for k, v in DEFINITIONS.items()},
        periods=periods,
    )


def _row(
    reason: str, channel: str, acc: _Acc, total: int, titles: dict[str, str], note: RootCauseNoteRead | None
) -> RootCauseRow:
    return RootCauseRow(
        reason=reason,
        channel=channel,
        volume=acc.volume,
        share=round(acc.volume / total, 4) if total else 0.0,
        repeat_contacts=acc.repeats,
        repeat_rate=round(acc.repeats / acc.volume, 4),
        first_contact_resolved=acc.resolved,
        fcr_rate=round(acc.resolved / acc.volume, 4),
        handling_known=len(acc.handling),
        avg_handling_seconds=round(sum(acc.handling) / len(acc.handling), 1) if acc.handling else None,
        top_skus=[
            SkuCount(sku=sku, title=titles.get(sku, ""), tickets=n)
            for sku, n in sorted(acc.skus.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SKUS]
        ],
        note=note,
    )


CSV_COLUMNS = (
    "period",
    "reason",
    "channel",
    "volume",
    "share",
    "repeat_contacts",
    "repeat_rate",
    "first_contact_resolved",
    "fcr_rate",
    "handling_known",
    "avg_handling_seconds",
    "top_skus",
    "root_cause",
    "action_owner",
    "note_set_by",
    "note_set_at",
)


def _cell(value: object) -> object:
    # Notes are free text typed by people; a leading "=" would run as a formula in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def report_csv(report: RootCauseReport) -> str:
    """One row per period, reason and channel, notes included."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for period, rows in report.periods.items():
        for r in rows:
            note = r.note
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        period,
                        r.reason,
                        r.channel,
                        r.volume,
                        r.share,
                        r.repeat_contacts,
                        r.repeat_rate,
                        r.first_contact_resolved,
                        r.fcr_rate,
                        r.handling_known,
                        "" if r.avg_handling_seconds is None else r.avg_handling_seconds,
                        "; ".join(f"{s.sku} ({s.tickets})" for s in r.top_skus),
                        note.root_cause if note else "",
                        note.action_owner if note else "",
                        note.set_by if note else "",
                        note.set_at.isoformat() if note else "",
                    )
                ]
            )
    return out.getvalue()
