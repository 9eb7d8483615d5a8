"""The demo shop's data beyond articles: orders and tickets (linked histories, duplicates), seed macros and
a generated deflection history for the reports page."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from core.clock import utcnow
from core.settings import ROOT
from history import service
from kb.events import DEMO_SESSION_PREFIX, DeflectionEvent
from kb.models import Article
from replies.macros import ensure_seeded
from runtime import Runtime

DEMO_DIR = ROOT / "demo"


def load_demo_history(runtime: Runtime, tenant: str) -> None:
    """Imports demo/orders.jsonl then demo/tickets.jsonl (orders first, so messages link by order id)."""
    orders_path, tickets_path = DEMO_DIR / "orders.jsonl", DEMO_DIR / "tickets.jsonl"
    with runtime.session() as session:
        if orders_path.exists():
            service.import_orders(
                session, tenant_id=tenant, orders=service.parse_orders(orders_path), file=str(orders_path)
            )
        if tickets_path.exists():
            service.import_tickets(
                session,
                runtime.search,
                tenant_id=tenant,
                tickets=service.parse_tickets(tickets_path),
                file=str(tickets_path),
            )
    runtime.search.catch_up(tenant, "tickets")
    runtime.search.save(tenant, "tickets")


def load_demo_macros(runtime: Runtime, tenant: str) -> None:
    with runtime.session() as session:
        ensure_seeded(session, tenant_id=tenant)


DEMO_DAYS = 28
# Contact-form topics (reason tags) weighted as the demo shop's tickets are, and where buyers bought.
_TOPIC_WEIGHTS = {
    "tracking": 30,
    "return_label": 16,
    "refund_status": 12,
    "damaged_in_transit": 9,
    "product_question": 12,
    "delivery_change": 7,
    "cancellation": 6,
    "missing_item": 4,
    "invoice": 4,
}
_CHANNEL_WEIGHTS = {"shopify": 40, "amazon": 30, "ebay": 15, "walmart": 10, "web": 5}
_SOURCE_WEIGHTS = {"widget": 60, "help_centre": 15, "contact_form": 25}


def load_demo_deflection(runtime: Runtime, tenant: str, *, seed: int = 7) -> int:
    """Four weeks of generated widget, article and contact-form sessions, so the demo's reports have a
    history (the last three days stay open, as live ones would). Idempotent; returns the events added."""
    with runtime.session() as session:
        already = session.scalar(
            select(func.count())
            .select_from(DeflectionEvent)
            .where(
                DeflectionEvent.tenant_id == tenant,
                DeflectionEvent.session_id.like(DEMO_SESSION_PREFIX + "%"),
            )
        )
        if already:
            return 0
        articles: dict[str, list[str]] = {}
        for external_id, tags, locale in session.execute(
            select(Article.external_id, Article.tags, Article.locale).where(Article.tenant_id == tenant)
        ):
            if locale == "en" and tags:
                articles.setdefault(tags[0], []).append(external_id)
        rows = _demo_events(random.Random(seed), tenant, articles, utcnow())
        session.add_all(rows)
    return len(rows)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _demo_events(
    rng: random.Random, tenant: str, articles: dict[str, list[str]], now: datetime
) -> list[DeflectionEvent]:
    rows: list[DeflectionEvent] = []
    for day in range(DEMO_DAYS, 0, -1):
        start_of_day = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        weekend = start_of_day.weekday() >= 5
        for number in range(rng.randint(8, 14) if weekend else rng.randint(14, 24)):
            topic, channel, source = (
                _pick(rng, _TOPIC_WEIGHTS),
                _pick(rng, _CHANNEL_WEIGHTS),
                _pick(rng, _SOURCE_WEIGHTS),
            )
            at = start_of_day + timedelta(seconds=rng.randint(7 * 3600, 23 * 3600))
            if at >= now:
                continue
            article = rng.choice(articles.get(topic) or articles.get("tracking") or ["kb-tracking"])
            session_id = f"{DEMO_SESSION_PREFIX}{day:02d}-{number:02d}"

            base = {
                "tenant_id": tenant,
                "session_id": session_id,
                "source": source,
                "topic": topic,
                "channel": channel,
                "locale": "en",
                "article_id": article,
            }

            def event(
                kind: str, minutes: float, base: dict[str, str] = base, at: datetime = at
            ) -> DeflectionEvent:
                return DeflectionEvent(kind=kind, created_at=at + timedelta(minutes=minutes), **base)

            rows.append(event("impression", 0))
            roll = rng.random()
            if roll < 0.45:  # read an article and was helped
                rows += [event("click", 0.5), event("helpful", 2)]
            elif roll < 0.62:  # read and left: deflected once the window closes without a ticket
                rows.append(event("click", 0.5))
            elif roll < 0.72:  # saw suggestions only
                pass
            else:  # not helped: wrote to the shop anyway
                rows += [event("not_helpful", 1.5)] if roll < 0.8 else []
                rows += [event("contact_anyway", 3), event("submitted", 4)]
    return rows
