"""Per-tenant learned ranking: which model serves a tenant, and `deflect tune` (train, replay, store).

Serving order: the tenant's newest stored model when it loads cleanly, else the shipped global model
(kb/ranker_global.json, trained on the development shops, reported leave-one-shop-out), else the
hand-tuned ranking. A stored model that is altered, unreadable or built for other encoder parts is
refused with a logged reason and the next one down serves.

Training data is the tenant's own: past tickets resolved with an article (the ticket's text is a
query, the article its answer) and widget feedback sessions (a click or "this answered it" marks an
answer; "no", or contacting anyway after seeing the list, marks what was shown as a miss). The most
recent 20 % of those examples are held back and replayed before and after; the stored model never
saw them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from embeddings.collection import Collection
from embeddings.encoder import RoutedEncoder
from history.models import Ticket
from kb.events import DEMO_SESSION_PREFIX, DeflectionEvent
from kb.feedback import article_feedback
from kb.learned import (
    NO_PRIORS,
    ArticlePriors,
    LearnedRanker,
    RankerModelError,
    feature_names,
    fit,
    loads,
)
from kb.models import RankerModel

log = logging.getLogger(__name__)

GLOBAL_MODEL_PATH = Path(__file__).with_name("ranker_global.json")
HOLDOUT = 0.2
MIN_EXAMPLES = 10
FEEDBACK_KINDS = ("impression", "click", "helpful", "not_helpful", "contact_anyway")
Source = Literal["tenant", "global", "hand"]


@dataclass(frozen=True)
class ServingRanker:
    """The model a tenant's searches are ranked with, where it came from, and why a better one was not."""

    model: LearnedRanker | None
    source: Source
    version: int | None = None
    priors: ArticlePriors = NO_PRIORS
    refused: str | None = None


def encoder_parts(collection: Collection) -> tuple[str, ...]:
    """The names of the article index's encoder parts, which a model's features are built for."""
    encoder = collection.encoder
    if isinstance(encoder, RoutedEncoder):
        return tuple(encoder.part_names)
    return (encoder.name,)


@lru_cache(maxsize=8)
def _global_text() -> str | None:
    return GLOBAL_MODEL_PATH.read_text(encoding="utf-8") if GLOBAL_MODEL_PATH.exists() else None


@lru_cache(maxsize=256)
def _parsed(text: str, sha256: str | None, parts: tuple[str, ...]) -> LearnedRanker:
    return loads(text, sha256=sha256, parts=parts)


def global_model(parts: Sequence[str]) -> LearnedRanker | None:
    """The shipped model when it was trained for these encoder parts (a test encoder has others)."""
    text = _global_text()
    if text is None:
        return None
    try:
        return _parsed(text, None, tuple(parts))
    except RankerModelError:
        return None


def priors_of(model: LearnedRanker | None) -> ArticlePriors:
    """The feedback priors a tenant model was trained with (a snapshot, so serving reads no events)."""
    return priors_from((model.info.get("priors") if model is not None else None) or {})


def priors_from(raw: dict[str, Any]) -> ArticlePriors:
    if not raw:
        return NO_PRIORS
    return ArticlePriors(
        click_prior=dict(raw.get("click_prior", {})),
        helpful_rate=dict(raw.get("helpful_rate", {})),
        contact_rate=dict(raw.get("contact_rate", {})),
        default_helpful=float(raw.get("default_helpful", 0.5)),
        default_contact=float(raw.get("default_contact", 0.0)),
    )


def serving_ranker(session: Session, *, tenant_id: str, parts: Sequence[str]) -> ServingRanker:
    """The tenant's newest model if it loads, else the shipped global one, else the hand-tuned ranking."""
    row = session.execute(
        select(RankerModel.version, RankerModel.model_json, RankerModel.sha256)
        .where(RankerModel.tenant_id == tenant_id)
        .order_by(RankerModel.version.desc())
        .limit(1)
    ).first()
    refused = None
    if row is not None:
        try:
            model = _parsed(row.model_json, row.sha256, tuple(parts))
            return ServingRanker(model=model, source="tenant", version=row.version, priors=priors_of(model))
        except RankerModelError as exc:
            refused = f"tenant {tenant_id} ranker v{row.version} refused: {exc.message}"
            log.warning("%s; falling back to the shipped ranker", refused)
    shipped = global_model(parts)
    if shipped is not None:
        return ServingRanker(model=shipped, source="global", refused=refused)
    return ServingRanker(model=None, source="hand", refused=refused)


# -- training data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One query with what answered it (positives) and what was shown and did not (negatives)."""

    query: str
    channel: str | None
    locale: str | None
    at: datetime
    positives: frozenset[str]
    negatives: frozenset[str] = frozenset()
    ticket_key: str | None = None  # a past ticket: it must not vote for its own answer
    kind: Literal["ticket", "feedback"] = "ticket"


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def tenant_examples(session: Session, *, tenant_id: str) -> list[Example]:
    """Resolved tickets and widget feedback sessions, oldest first."""
    examples: list[Example] = []
    for ticket in session.scalars(
        select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.resolved_by_article.is_not(None))
    ):
        text = f"{ticket.subject}\n{ticket.body}" if ticket.subject else ticket.body
        examples.append(
            Example(
                query=text,
                channel=ticket.channel,
                locale=ticket.locale,
                at=_aware(ticket.created_at),
                positives=frozenset({ticket.resolved_by_article or ""}),
                ticket_key=ticket.external_id,
            )
        )
    examples += _feedback_examples(session, tenant_id=tenant_id)
    return sorted(examples, key=lambda e: e.at)


def _feedback_examples(session: Session, *, tenant_id: str) -> list[Example]:
    rows = session.execute(
        select(
            DeflectionEvent.session_id,
            DeflectionEvent.kind,
            DeflectionEvent.query,
            DeflectionEvent.channel,
            DeflectionEvent.locale,
            DeflectionEvent.article_id,
            DeflectionEvent.article_ids,
            DeflectionEvent.created_at,
        )
        .where(
            DeflectionEvent.tenant_id == tenant_id,
            DeflectionEvent.kind.in_(FEEDBACK_KINDS),
            DeflectionEvent.source.in_(("widget", "contact_form")),
            # Generated demo sessions are not the customers' behaviour.
            DeflectionEvent.session_id.not_like(f"{DEMO_SESSION_PREFIX}%"),
        )
        .order_by(DeflectionEvent.created_at, DeflectionEvent.id)
    )
    by_session: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_session[row.session_id].append(row)
    out = []
    for events in by_session.values():
        query = channel = locale = None
        shown: list[str] = []
        good: set[str] = set()
        bad: set[str] = set()
        contacted = False
        for e in events:
            if e.kind == "impression" and e.query:
                query, channel, locale = e.query, e.channel, e.locale
                shown = list(e.article_ids or ([e.article_id] if e.article_id else []))
            elif e.kind in ("click", "helpful") and e.article_id:
                good.add(e.article_id)
                bad.discard(e.article_id)
            elif e.kind == "not_helpful" and e.article_id:
                bad.add(e.article_id)
                good.discard(e.article_id)
            elif e.kind == "contact_anyway":
                contacted = True
        if contacted and not good:
            bad.update(shown)  # they saw the list and still wrote in: none of it answered
        if query and (good or bad):
            out.append(
                Example(
                    query=query,
                    channel=channel,
                    locale=locale,
                    at=_aware(events[0].created_at),
                    positives=frozenset(good),
                    negatives=frozenset(bad - good),
                    kind="feedback",
                )
            )
    return out


def events_seen(session: Session, *, tenant_id: str) -> int:
    """Resolved tickets plus feedback events: what the retraining trigger counts."""
    tickets = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.tenant_id == tenant_id, Ticket.resolved_by_article.is_not(None))
    )
    events = session.scalar(
        select(func.count())
        .select_from(DeflectionEvent)
        .where(DeflectionEvent.tenant_id == tenant_id, DeflectionEvent.kind.in_(FEEDBACK_KINDS[1:]))
    )
    return int(tickets or 0) + int(events or 0)


def retrain_due(session: Session, *, tenant_id: str, min_new: int) -> tuple[bool, int]:
    """Whether `min_new` events arrived since the tenant's last model, and that model's version (0: none)."""
    last = session.execute(
        select(RankerModel.version, RankerModel.events_seen)
        .where(RankerModel.tenant_id == tenant_id)
        .order_by(RankerModel.version.desc())
        .limit(1)
    ).first()
    version, seen = (last.version, last.events_seen) if last is not None else (0, 0)
    return events_seen(session, tenant_id=tenant_id) - seen >= min_new, version


# -- tuning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """Ranked-list quality on the held-back examples that have an answer (translation groups count as one)."""

    examples: int
    recall_at_1: float
    recall_at_3: float
    mrr_at_10: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "examples": self.examples,
            "recall@1": round(self.recall_at_1, 4),
            "recall@3": round(self.recall_at_3, 4),
            "mrr@10": round(self.mrr_at_10, 4),
        }


@dataclass
class TuneReport:
    tenant_id: str
    version: int
    trained_on: dict[str, int]
    held_back: dict[str, int]
    held_since: datetime
    replay: dict[str, Replay]  # "hand", "global" (when shipped for these parts), "previous", "tuned"
    previous_source: Source
    notes: list[str] = field(default_factory=list)


# Runs one example through the service's search: (ranked keys, key -> translation group, feature rows
# with their hand-ranked keys). The caller (kb.suggest) provides it so this module stays below it.
Searcher = Callable[[Example, LearnedRanker | None, ArticlePriors], "SearchOutcome"]


@dataclass(frozen=True)
class SearchOutcome:
    ranked: list[str]
    groups: dict[str, str]
    keys: list[str]  # the candidate articles the feature rows describe, in row order
    features: np.ndarray


def _replay(outcomes: Sequence[tuple[Example, SearchOutcome]]) -> Replay:
    r1 = r3 = rr = 0.0
    n = 0
    for example, found in outcomes:
        if not example.positives:
            continue
        n += 1
        wanted = {found.groups.get(k, k) for k in example.positives}
        seen: list[str] = []
        for key in found.ranked:
            group = found.groups.get(key, key)
            if group not in seen:
                seen.append(group)
        hits = [i for i, g in enumerate(seen[:10]) if g in wanted]
        r1 += bool(hits and hits[0] < 1)
        r3 += bool(hits and hits[0] < 3)
        rr += 1.0 / (hits[0] + 1) if hits else 0.0
    d = max(n, 1)
    return Replay(examples=n, recall_at_1=r1 / d, recall_at_3=r3 / d, mrr_at_10=rr / d)


def _priors_snapshot(session: Session, *, tenant_id: str, until: datetime) -> dict[str, Any]:
    try:
        feedback = article_feedback(session, tenant_id=tenant_id, until=until)
    except InvalidInputError:
        return {}
    return {
        "click_prior": {k: a.click_prior for k, a in feedback.articles.items()},
        "helpful_rate": {k: a.helpful_rate for k, a in feedback.articles.items()},
        "contact_rate": {k: a.contact_rate for k, a in feedback.articles.items()},
        "default_helpful": feedback.helpful_rate,
        "default_contact": feedback.contact_rate,
    }


def tune_tenant(
    session: Session,
    *,
    tenant_id: str,
    parts: Sequence[str],
    search: Searcher,
    holdout: float = HOLDOUT,
    c: float = 1.0,
) -> TuneReport:
    """Trains the tenant's ranker on its older examples, replays the newest `holdout` share before and
    after, and stores the model as the tenant's next version (the caller commits).

    Raises:
        InvalidInputError: fewer than MIN_EXAMPLES examples, or none held back with an answer.
    """
    examples = tenant_examples(session, tenant_id=tenant_id)
    if len(examples) < MIN_EXAMPLES:
        raise InvalidInputError(
            f"tenant {tenant_id} has {len(examples)} resolved tickets and feedback sessions; "
            f"tuning needs at least {MIN_EXAMPLES}"
        )
    cut = max(1, min(len(examples) - 1, round(len(examples) * (1 - holdout))))
    train, held = examples[:cut], examples[cut:]
    current = serving_ranker(session, tenant_id=tenant_id, parts=parts)
    shipped = global_model(parts)
    priors_raw = _priors_snapshot(session, tenant_id=tenant_id, until=held[0].at)
    priors = priors_from(priors_raw)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for example in train:
        found = search(example, None, priors)
        if not found.keys:
            continue
        label = np.array([k in example.positives for k in found.keys], dtype=np.int64)
        if example.positives:
            keep = np.ones(len(found.keys), dtype=bool)
        else:  # only misses were marked: the other articles say nothing
            keep = np.array([k in example.negatives for k in found.keys], dtype=bool)
        xs.append(found.features[keep])
        ys.append(label[keep])
    if not xs or len(set(np.concatenate(ys).tolist())) < 2:
        raise InvalidInputError("the training examples name no article the search finds; nothing to learn")
    x = np.vstack(xs).astype(np.float64)
    y = np.concatenate(ys)
    counts = {
        "tickets": sum(e.kind == "ticket" for e in train),
        "feedback_sessions": sum(e.kind == "feedback" for e in train),
        "rows": len(y),
    }
    model = fit(
        x,
        y,
        base=shipped,
        c=c,
        features=feature_names(parts),
        info={"priors": priors_raw, "trained_on": counts, "until": held[0].at.isoformat()},
    )
    replay: dict[str, Replay] = {"hand": _replay([(e, search(e, None, priors)) for e in held])}
    if shipped is not None:
        replay["global"] = _replay([(e, search(e, shipped, NO_PRIORS)) for e in held])
    notes = []
    if current.source == "tenant" and current.model is not None:
        replay["previous"] = _replay([(e, search(e, current.model, current.priors)) for e in held])
        notes.append("previous: the tenant's last model, which may have been trained on these examples")
    replay["tuned"] = _replay([(e, search(e, model, priors)) for e in held])
    version = (
        session.scalar(select(func.max(RankerModel.version)).where(RankerModel.tenant_id == tenant_id)) or 0
    ) + 1
    text, sha = model.dumps()
    session.add(
        RankerModel(
            tenant_id=tenant_id,
            version=version,
            model_json=text,
            sha256=sha,
            events_seen=events_seen(session, tenant_id=tenant_id),
            replay={k: v.as_dict() for k, v in replay.items()},
        )
    )
    session.flush()
    return TuneReport(
        tenant_id=tenant_id,
        version=version,
        trained_on=counts,
        held_back={
            "tickets": sum(e.kind == "ticket" for e in held),
            "feedback_sessions": sum(e.kind == "feedback" for e in held),
        },
        held_since=held[0].at,
        replay=replay,
        previous_source=current.source,
        notes=notes,
    )
