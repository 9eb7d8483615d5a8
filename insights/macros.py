"""Macro effectiveness: usage, first-contact resolution per macro and tag, handling time per tag."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from history.models import Ticket
from replies.models import Draft
from replies.schemas import MacroReport, MacroUsage, TagUsage


@dataclass
class _Counts:
    uses: int = 0
    with_customer: int = 0
    resolved: int = 0
    versions: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, *, has_customer: bool, resolved: bool, version: int | None = None) -> None:
        self.uses += 1
        if version is not None:
            self.versions[str(version)] += 1
        if has_customer:
            self.with_customer += 1
            self.resolved += resolved


def _rate(resolved: int, total: int) -> float | None:
    return round(resolved / total, 4) if total else None


def macro_report(
    session: Session, *, tenant_id: str, since: datetime | None, until: datetime | None, window_days: int
) -> MacroReport:
    """A contact counts as resolved first time when the customer writes no new ticket on that reason within
    the window."""
    query = select(Draft).where(Draft.tenant_id == tenant_id)
    if since:
        query = query.where(Draft.contact_at >= since)
    if until:
        query = query.where(Draft.contact_at < until)
    drafts = list(session.scalars(query.order_by(Draft.id)))

    customer_ids = {d.customer_id for d in drafts if d.customer_id is not None}
    later: dict[int, list[tuple[datetime, str, list[str]]]] = defaultdict(list)
    if customer_ids:
        for customer_id, created_at, external_id, tags in session.execute(
            select(Ticket.customer_id, Ticket.created_at, Ticket.external_id, Ticket.tags).where(
                Ticket.tenant_id == tenant_id, Ticket.customer_id.in_(customer_ids)
            )
        ).tuples():
            if customer_id is not None:
                later[customer_id].append((created_at, external_id, list(tags or [])))
    window = timedelta(days=window_days)

    def resolved(draft: Draft, topic: str) -> bool:
        for created_at, external_id, tags in later[draft.customer_id or 0]:
            if (
                external_id != draft.ticket_id
                and draft.contact_at < created_at <= draft.contact_at + window
                and topic in tags
            ):
                return False
        return True

    macro_stats: dict[str, _Counts] = defaultdict(_Counts)
    tag_stats: dict[str, _Counts] = defaultdict(_Counts)
    for draft in drafts:
        has_customer = draft.customer_id is not None
        for topic in {c["topic"] for c in draft.coverage if c.get("status") == "answered"}:
            tag_stats[topic].add(has_customer=has_customer, resolved=has_customer and resolved(draft, topic))
        for used in draft.macro_versions:
            topic = used.get("topic")
            if not topic:
                continue  # greeting and closing frame every reply; they say nothing about effectiveness
            macro_stats[used["key"]].add(
                has_customer=has_customer,
                resolved=has_customer and resolved(draft, topic),
                version=used["version"],
            )

    handling: dict[str, list[float]] = defaultdict(list)
    ticket_query = select(Ticket.tags, Ticket.handling_seconds).where(
        Ticket.tenant_id == tenant_id, Ticket.handling_seconds.is_not(None)
    )
    if since:
        ticket_query = ticket_query.where(Ticket.created_at >= since)
    if until:
        ticket_query = ticket_query.where(Ticket.created_at < until)
    for tags, seconds in session.execute(ticket_query).tuples():
        for tag in tags or []:
            handling[tag].append(float(seconds or 0.0))

    macros_out = [
        MacroUsage(
            key=key,
            uses=c.uses,
            versions=dict(c.versions),
            contacts_with_customer=c.with_customer,
            first_contact_resolved=c.resolved,
            fcr_rate=_rate(c.resolved, c.with_customer),
        )
        for key, c in sorted(macro_stats.items(), key=lambda kv: (-kv[1].uses, kv[0]))
    ]
    tags_out = []
    for tag in sorted(set(tag_stats) | set(handling)):
        c = tag_stats.get(tag, _Counts())
        times = handling.get(tag, [])
        tags_out.append(
            TagUsage(
                tag=tag,
                uses=c.uses,
                contacts_with_customer=c.with_customer,
                first_contact_resolved=c.resolved,
                fcr_rate=_rate(c.resolved, c.with_customer),
                avg_handling_seconds=round(sum(times) / len(times), 1) if times else None,
                tickets_with_handling_time=len(times),
            )
        )
    return MacroReport(
        since=since,
        until=until,
        window_days=window_days,
        drafts=len(drafts),
        macros=macros_out,
        tags=tags_out,
    )
