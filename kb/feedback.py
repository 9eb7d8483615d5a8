"""Per-article feedback from deflection events: what a ranker can use as a click and satisfaction prior.

The unit is a (browser session, article) pair, not an event: search-as-you-type renders the same
list on many keystrokes, and counting each render would credit the top article with impressions
nobody looked at. Per article:

- impressions: sessions whose widget or contact-form suggestions showed it (help-centre article
  page views are not ranked lists and are left out); `article_ids` on an impression gives each
  shown article's position, an older impression with only `article_id` counts its top article;
- clicks: sessions that clicked it;
- helpful / not_helpful: sessions whose last vote on it ("did this answer your question?") was
  yes / no, from any source;
- contact_after_impression / contact_after_click: sessions that still contacted within the
  deflection window after it was first shown / clicked: a `contact_anyway` or `submitted` event of
  the session, or, when the customer gave an e-mail, a submission or ticket from that customer on
  any channel (the same definition as the deflection report, kb/deflection.py).

Smoothed values, so an article seen twice does not outrank one seen a thousand times:
- click_prior: clicks over expected clicks (COEC), with expected clicks the tenant's click rate at
  the position each impression had. 1.0 is an average article for the places it was shown; top
  positions get clicked more whatever they hold, and this divides that out.
- helpful_rate and contact_rate: Beta-smoothed towards the tenant-wide rate with `prior_strength`
  pseudo-observations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInputError
from kb.deflection import MAX_REPORT_DAYS, history_contacts
from kb.events import DeflectionEvent

DEFAULT_DAYS = 90
DEFAULT_PRIOR_STRENGTH = 10.0
RANKED_SOURCES = ("widget", "contact_form")
CONTACT_KINDS = ("contact_anyway", "submitted")
VOTE_KINDS = ("helpful", "not_helpful")


class ArticleFeedback(BaseModel):
    """Counts and smoothed rates for one article (see the module docstring for each definition)."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    impressions: int = 0
    clicks: int = 0
    helpful: int = 0
    not_helpful: int = 0
    contact_after_impression: int = 0
    contact_after_click: int = 0
    # Impressions whose contact window has closed or that led to a contact: contact_rate's denominator.
    impressions_settled: int = 0
    expected_clicks: float = 0.0
    click_prior: float = Field(1.0, description="(clicks + m) / (expected clicks + m); 1.0 = average")
    helpful_rate: float = Field(description="(helpful + m * tenant rate) / (votes + m)")
    contact_rate: float = Field(description="(contacts after impression + m * tenant rate) / (settled + m)")


class FeedbackPriors(BaseModel):
    """Per-article feedback for one tenant and period, with the tenant-wide rates unseen articles get."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    since: datetime
    until: datetime
    window_hours: int
    prior_strength: float
    # Share of sessions that clicked the article shown at each position (0 = top), smoothed.
    click_rate_by_position: list[float]
    click_rate: float
    helpful_rate: float
    contact_rate: float
    articles: dict[str, ArticleFeedback]

    def for_article(self, article_id: str) -> ArticleFeedback:
        """The article's feedback; an article without events gets the tenant-wide priors."""
        found = self.articles.get(article_id)
        if found is not None:
            return found
        return ArticleFeedback(
            article_id=article_id, helpful_rate=self.helpful_rate, contact_rate=self.contact_rate
        )


@dataclass
class _Seen:
    shown_at: datetime | None = None
    position: int | None = None
    clicked_at: datetime | None = None
    vote: str | None = None


@dataclass
class _SessionEvents:
    articles: dict[str, _Seen] = field(default_factory=lambda: defaultdict(_Seen))
    contacts: list[datetime] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _sessions(
    session: Session, *, tenant_id: str, since: datetime, until: datetime, window: timedelta
) -> tuple[dict[str, _SessionEvents], dict[str, list[datetime]]]:
    """What each session saw, clicked and voted in [since, until), and every contact up to until + window."""
    sessions: dict[str, _SessionEvents] = defaultdict(_SessionEvents)
    submitted_by_email: dict[str, list[datetime]] = defaultdict(list)
    rows = session.execute(
        select(
            DeflectionEvent.session_id,
            DeflectionEvent.kind,
            DeflectionEvent.source,
            DeflectionEvent.article_id,
            DeflectionEvent.article_ids,
            DeflectionEvent.customer_email,
            DeflectionEvent.created_at,
        )
        .where(
            DeflectionEvent.tenant_id == tenant_id,
            DeflectionEvent.created_at >= since,
            DeflectionEvent.created_at < until + window,
        )
        .order_by(DeflectionEvent.created_at, DeflectionEvent.id)
    )
    for session_id, kind, source, article_id, article_ids, email, created_at in rows:
        at = _aware(created_at)
        if kind in CONTACT_KINDS:
            sessions[session_id].contacts.append(at)
            if kind == "submitted" and email:
                submitted_by_email[email].append(at)
        if email:
            sessions[session_id].emails.add(email)
        if at >= until:
            continue  # after the period: counts only as a contact
        seen = sessions[session_id].articles
        if kind == "impression" and source in RANKED_SOURCES:
            shown = list(article_ids) if article_ids else ([article_id] if article_id else [])
            for position, shown_id in enumerate(shown):
                entry = seen[shown_id]
                entry.shown_at = entry.shown_at or at
                entry.position = position if entry.position is None else min(entry.position, position)
        elif kind == "click" and article_id:
            seen[article_id].clicked_at = seen[article_id].clicked_at or at
        elif kind in VOTE_KINDS and article_id:
            seen[article_id].vote = kind
    return sessions, submitted_by_email


def _contacted(contacts: list[datetime], start: datetime, window: timedelta) -> bool:
    return any(start <= at <= start + window for at in contacts)


def _smoothed(hits: float, total: float, prior: float, strength: float) -> float:
    return round((hits + strength * prior) / (total + strength), 4)


def article_feedback(
    session: Session,
    *,
    tenant_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    window_hours: int = 72,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
) -> FeedbackPriors:
    """Per-article impressions, clicks, votes and contacts-anyway in [since, until), with smoothed rates.

    Args:
        since, until: the period whose impressions, clicks and votes count (default: the 90 days
            before now). Contacts are looked for up to `window_hours` after `until`.
        window_hours: how long after an impression or click a contact still counts against the
            article (the deflection report's window; settings.deflection_window_hours).
        prior_strength: pseudo-observations pulling every rate towards the tenant-wide one.

    Returns:
        FeedbackPriors; `for_article(id)` gives any article's values, defaults for unseen ones.
    """
    now = utcnow()
    until = _aware(until) if until is not None else now
    since = _aware(since) if since is not None else until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise InvalidInputError("since must be before until")
    if until - since > timedelta(days=MAX_REPORT_DAYS):
        raise InvalidInputError(f"feedback covers at most {MAX_REPORT_DAYS} days")
    if window_hours < 1 or prior_strength <= 0:
        raise InvalidInputError("window_hours must be at least 1 and prior_strength positive")
    window = timedelta(hours=window_hours)
    sessions, by_email = _sessions(session, tenant_id=tenant_id, since=since, until=until, window=window)
    emails = {e for s in sessions.values() for e in s.emails}
    if emails:
        for email, times in history_contacts(
            session, tenant_id=tenant_id, emails=emails, since=since, until=until + window
        ).items():
            by_email[email].extend(_aware(t) for t in times)

    # Pass 1: the tenant's click rate per position and its overall rates, the priors of pass 2.
    shown_at_position: dict[int, int] = defaultdict(int)
    clicked_at_position: dict[int, int] = defaultdict(int)
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    positions: dict[str, list[int | None]] = defaultdict(list)
    for facts in sessions.values():
        contacts = facts.contacts + [at for e in facts.emails for at in by_email.get(e, [])]
        for article_id, seen in facts.articles.items():
            row = counts[article_id]
            # A click without a recorded impression (older widgets sent only the top article) was
            # shown somewhere: an impression at an unknown position.
            start = seen.shown_at or seen.clicked_at
            if start is not None:
                row["impressions"] += 1
                positions[article_id].append(seen.position)
                if seen.position is not None:
                    shown_at_position[seen.position] += 1
                    clicked_at_position[seen.position] += seen.clicked_at is not None
                if _contacted(contacts, start, window):
                    row["contact_after_impression"] += 1
                    row["impressions_settled"] += 1
                elif start + window <= now:
                    row["impressions_settled"] += 1
            if seen.clicked_at is not None:
                row["clicks"] += 1
                row["contact_after_click"] += _contacted(contacts, seen.clicked_at, window)
            if seen.vote is not None:
                row[seen.vote] += 1

    total = {k: sum(row[k] for row in counts.values()) for k in ("impressions", "clicks", "helpful")}
    votes = total["helpful"] + sum(row["not_helpful"] for row in counts.values())
    settled = sum(row["impressions_settled"] for row in counts.values())
    contacted = sum(row["contact_after_impression"] for row in counts.values())
    click_rate = total["clicks"] / total["impressions"] if total["impressions"] else 0.0
    helpful_rate = total["helpful"] / votes if votes else 0.5
    contact_rate = contacted / settled if settled else 0.0
    top = max(shown_at_position, default=-1)
    by_position = [
        _smoothed(clicked_at_position[p], shown_at_position[p], click_rate, prior_strength)
        for p in range(top + 1)
    ]

    articles: dict[str, ArticleFeedback] = {}
    for article_id, row in counts.items():
        expected = sum(
            by_position[p] if p is not None and p < len(by_position) else click_rate
            for p in positions[article_id]
        )
        articles[article_id] = ArticleFeedback(
            article_id=article_id,
            impressions=int(row["impressions"]),
            clicks=int(row["clicks"]),
            helpful=int(row["helpful"]),
            not_helpful=int(row["not_helpful"]),
            contact_after_impression=int(row["contact_after_impression"]),
            contact_after_click=int(row["contact_after_click"]),
            impressions_settled=int(row["impressions_settled"]),
            expected_clicks=round(expected, 4),
            click_prior=_smoothed(row["clicks"], expected, 1.0, prior_strength),
            helpful_rate=_smoothed(
                row["helpful"], row["helpful"] + row["not_helpful"], helpful_rate, prior_strength
            ),
            contact_rate=_smoothed(
                row["contact_after_impression"], row["impressions_settled"], contact_rate, prior_strength
            ),
        )
    return FeedbackPriors(
        tenant_id=tenant_id,
        since=since,
        until=until,
        window_hours=window_hours,
        prior_strength=prior_strength,
        click_rate_by_position=by_position,
        click_rate=round(click_rate, 4),
        helpful_rate=round(helpful_rate, 4),
        contact_rate=round(contact_rate, 4),
        articles=articles,
    )
