"""Repeat-contact rate per reason and channel, and the top contact reasons per channel."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from history.models import Ticket
from history.schemas import RateRow, ReasonCount, RepeatContactsReport, TopReasonsReport

PERIODS = (30, 60, 90)
TOP = 5


def _rows(counts: dict[str, list[int]]) -> list[RateRow]:
    rows = [
        RateRow(key=k, tickets=n, repeats=r, rate=round(r / n, 4) if n else 0.0)
        for k, (n, r) in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row.rate, -row.tickets, row.key))


def repeat_contacts(
    session: Session,
    *,
    tenant_id: str,
    within_days: int = 7,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RepeatContactsReport:
    """Share of contacts whose customer had already written about the same reason in the previous N days."""
    until = until or utcnow()
    since = since or until - timedelta(days=90)
    window = timedelta(days=within_days)
    tickets = list(
        session.execute(
            select(Ticket.customer_id, Ticket.channel, Ticket.tags, Ticket.created_at)
            .where(
                Ticket.tenant_id == tenant_id, Ticket.created_at >= since - window, Ticket.created_at <= until
            )
            .order_by(Ticket.created_at)
        )
    )
    # (customer, reason) -> times of contact, ascending
    history: dict[tuple[int | None, str], list[datetime]] = defaultdict(list)
    for customer_id, _, tags, created_at in tickets:
        for tag in tags or ["other"]:
            history[(customer_id, tag)].append(created_at)
    by_reason: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    overall = [0, 0]
    for customer_id, channel, tags, created_at in tickets:
        if created_at < since or customer_id is None:
            continue
        repeat_any = False
        for tag in tags or ["other"]:
            times = history[(customer_id, tag)]
            first_in_window = bisect_left(times, created_at - window)
            repeat = times[first_in_window] < created_at
            by_reason[tag][0] += 1
            by_reason[tag][1] += int(repeat)
            repeat_any |= repeat
        by_channel[channel][0] += 1
        by_channel[channel][1] += int(repeat_any)
        overall[0] += 1
        overall[1] += int(repeat_any)
    return RepeatContactsReport(
        within_days=within_days,
        since=since,
        until=until,
        overall=_rows({"all": overall})[0],
        by_reason=_rows(by_reason),
        by_channel=_rows(by_channel),
    )


def top_reasons(session: Session, *, tenant_id: str, until: datetime | None = None) -> TopReasonsReport:
    """The five most frequent reasons per channel over the last 30, 60 and 90 days."""
    until = until or utcnow()
    tickets = list(
        session.execute(
            select(Ticket.channel, Ticket.tags, Ticket.tag_source, Ticket.created_at).where(
                Ticket.tenant_id == tenant_id,
                Ticket.created_at >= until - timedelta(days=max(PERIODS)),
                Ticket.created_at <= until,
            )
        )
    )
    periods: dict[str, dict[str, list[ReasonCount]]] = {}
    for days in PERIODS:
        start = until - timedelta(days=days)
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        auto: dict[str, Counter[str]] = defaultdict(Counter)
        for channel, tags, tag_source, created_at in tickets:
            if created_at < start:
                continue
            for tag in tags or ["other"]:
                counts[channel][tag] += 1
                auto[channel][tag] += int(tag_source == "auto")
        periods[f"{days}d"] = {
            channel: [
                ReasonCount(reason=tag, count=n, auto_tagged=auto[channel][tag])
                for tag, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
            ]
            for channel, counter in sorted(counts.items())
        }
    return TopReasonsReport(until=until, periods=periods)
