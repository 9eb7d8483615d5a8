"""Content gaps: what customers ask that the help centre does not answer, grouped into topics to write.

Candidates, from the last `days` days:
- tickets the widget's own search abstains on (`kb.suggest.suggest` with the widget's cut-off, so the
  widget, drafts and this report abstain identically: `no_suggestion`), or whose best shown article's
  confidence is less than LOW_SCORE_MARGIN above that cut-off (`low_score`);
- widget / contact-form sessions (their last typed query) with the same low scores, or where the customer
  voted an article not helpful (`not_helpful`) or asked to contact anyway (`contact_anyway`). A session that
  ended in a submitted ticket is represented by that ticket, not counted twice.
Candidates are clustered on the ticket encoder's normalised vectors with scikit-learn's agglomerative
clustering (cosine distance, average linkage, a distance threshold); input is sorted first, so the same data
always gives the same clusters. A cluster's `contacts` (tickets, plus sessions that asked to contact or
submitted) are the contacts a good article would likely have prevented; clusters are sorted by them, then by
size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import InvalidInputError
from core.schemas import channels_served
from embeddings.collection import SearchFilter
from history.models import Ticket
from history.tagging import auto_tag
from kb.events import DeflectionEvent
from kb.models import Article
from kb.service import COLLECTION
from kb.suggest import suggest

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

LOW_SCORE_MARGIN = 0.1
DEFAULT_DISTANCE = 0.5
EXAMPLES = 3
NEAREST_PER_ITEM = 5
MAX_DAYS = 366
DEFINITION = (
    "Candidates: tickets and widget/contact-form queries of the window whose best article scores under the "
    "abstain threshold (no_suggestion) or under threshold + {margin} (low_score), and sessions with a "
    "not-helpful vote or contact-anyway. Clusters: agglomerative, cosine distance, average linkage, "
    "threshold {distance}. contacts = tickets + sessions that asked to contact or submitted: what a good "
    "article would likely prevent."
)


class GapExample(BaseModel):
    kind: str = Field(description="ticket | query")
    ref: str = Field(description="ticket id, or the widget session id")
    text: str
    channel: str | None
    created_at: datetime
    why: list[str]


class NearestArticle(BaseModel):
    id: str
    title: str
    score: float = Field(
        description="Mean cosine over the cluster's members (0 where it was not in their top 5)"
    )


class GapCluster(BaseModel):
    size: int
    contacts: int = Field(description="Contacts a good article would likely prevent")
    tickets: int
    queries: int
    recent: int = Field(description="Members in the second half of the window")
    earlier: int = Field(description="Members in the first half of the window")
    trend: float | None = Field(description="recent / earlier - 1; null when earlier is 0")
    channels: dict[str, int]
    why: dict[str, int] = Field(description="How many members are candidates for each reason")
    suggested_reason: str
    nearest_article: NearestArticle | None
    examples: list[GapExample] = Field(description="The members closest to the cluster's centre")
    members: list[str] = Field(description="kind:ref of every member")


class ContentGapReport(BaseModel):
    definition: str
    since: datetime
    until: datetime
    threshold: float | None = Field(
        description="The tenant's calibrated cut-off; null: the shipped per language"
    )
    low_score: float = Field(
        description="The margin over the cut-off under which a shown article is a low score"
    )
    distance_threshold: float
    candidates: int
    unclustered: int = Field(description="Candidates in clusters smaller than min_size (not listed)")
    clusters: list[GapCluster]


@dataclass
class _Item:
    kind: str
    ref: str
    text: str
    channel: str | None
    created_at: datetime
    contact: bool
    tags: list[str]
    why: list[str] = field(default_factory=list)
    nearest: dict[str, float] = field(default_factory=dict)


def _sessions(
    session: Session, *, tenant_id: str, since: datetime, until: datetime, ticket_ids: set[str]
) -> list[_Item]:
    """One item per session with a typed query: its last query, and what the customer did."""
    events = session.scalars(
        select(DeflectionEvent)
        .where(
            DeflectionEvent.tenant_id == tenant_id,
            DeflectionEvent.created_at >= since,
            DeflectionEvent.created_at < until,
        )
        .order_by(DeflectionEvent.created_at, DeflectionEvent.id)
    )
    by_session: dict[str, list[DeflectionEvent]] = defaultdict(list)
    for event in events:
        by_session[event.session_id].append(event)
    items: list[_Item] = []
    for session_id, rows in by_session.items():
        if any(r.ticket_id in ticket_ids for r in rows if r.ticket_id):
            continue
        queried = [r for r in rows if r.query and r.query.strip()]
        if not queried:
            continue
        last = queried[-1]
        kinds = {r.kind for r in rows}
        why = [k for k in ("not_helpful", "contact_anyway") if k in kinds]
        items.append(
            _Item(
                kind="query",
                ref=session_id,
                text=last.query.strip(),  # type: ignore[union-attr]
                channel=next((r.channel for r in rows if r.channel), None),
                created_at=last.created_at,
                contact=bool(kinds & {"contact_anyway", "submitted"}),
                tags=[r.topic for r in rows if r.topic][-1:],
                why=list(why),
            )
        )
    return items


def _score(engine: SearchEngine, tenant_id: str, items: list[_Item]) -> None:
    """Each item's nearest articles by cosine, within the articles its channel may show."""

    collection = engine.collection(tenant_id, COLLECTION)
    vectors = engine.encoder_for(COLLECTION).encode([i.text for i in items], kind="query")
    for item, vector in zip(items, vectors, strict=True):
        hits = collection.search(
            item.text,
            vector,
            top_k=40,
            mode="dense",
            flt=SearchFilter(channels=channels_served(item.channel) if item.channel else None),
            candidates=40,
        )
        best: dict[str, float] = {}
        for hit in hits:
            if hit.dense_score is not None and hit.dense_score > best.get(hit.item.key, -1.0):
                best[hit.item.key] = hit.dense_score
        item.nearest = dict(sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:NEAREST_PER_ITEM])


def _vectors(engine: SearchEngine, items: list[_Item], stored: dict[str, bytes]) -> np.ndarray:
    """Normalised ticket-encoder vectors: the stored ones where the model matches, the rest encoded now."""
    missing = [n for n, i in enumerate(items) if not (i.kind == "ticket" and i.ref in stored)]
    fresh = (
        dict(
            zip(missing, engine.encoder.encode([items[n].text for n in missing], kind="passage"), strict=True)
        )
        if missing
        else {}
    )
    if not items:
        return np.zeros((0, 1), dtype=np.float32)
    matrix = np.vstack(
        [
            fresh[n] if n in fresh else np.frombuffer(stored[i.ref], dtype=np.float32)
            for n, i in enumerate(items)
        ]
    ).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _cluster_labels(vectors: np.ndarray, distance: float) -> np.ndarray:
    """Cluster ids per row; a row without meaning (zero vector, e.g. only punctuation) stays alone,
    since cosine distance is undefined for it."""
    labels = np.arange(len(vectors))
    meaningful = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
    if len(meaningful) < 2:
        return labels
    # Imported here: scikit-learn adds ~2 s of CPU to every process start (each `deflect` command and
    # server imports this module through the reports router) and only this report needs it.
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    )
    labels[meaningful] = model.fit_predict(vectors[meaningful]) + len(vectors)
    return labels


def content_gaps(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    threshold: float | None,
    days: int = 30,
    until: datetime | None = None,
    distance: float = DEFAULT_DISTANCE,
    min_size: int = 2,
    limit: int = 20,
) -> ContentGapReport:
    """Clusters of unanswered questions, most preventable contacts first."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be between 1 and {MAX_DAYS}")
    if not 0 < distance < 2:
        raise InvalidInputError("distance must be between 0 and 2 (cosine distance)")
    until = until or utcnow()
    since = until - timedelta(days=days)
    middle = since + (until - since) / 2

    tickets = list(
        session.scalars(
            select(Ticket).where(
                Ticket.tenant_id == tenant_id, Ticket.created_at >= since, Ticket.created_at < until
            )
        )
    )
    stored = {
        t.external_id: t.embedding
        for t in tickets
        if t.embedding is not None and t.embedding_model == engine.encoder.name
    }
    items = [
        _Item(
            kind="ticket",
            ref=t.external_id,
            text=t.text,
            channel=t.channel,
            created_at=t.created_at,
            contact=True,
            tags=list(t.tags),
        )
        for t in tickets
        if t.text.strip()
    ]
    items += _sessions(
        session, tenant_id=tenant_id, since=since, until=until, ticket_ids={t.external_id for t in tickets}
    )
    if items:
        _score(engine, tenant_id, items)
    for item in items:
        found = suggest(
            session,
            engine,
            tenant_id=tenant_id,
            query=item.text,
            channel=item.channel,
            threshold=threshold,
            top_k=1,
        )
        if found.abstained:
            item.why.insert(0, "no_suggestion")
        elif found.suggestions[0].confidence < found.threshold + LOW_SCORE_MARGIN:
            item.why.insert(0, "low_score")
    candidates = sorted((i for i in items if i.why), key=lambda i: (i.created_at, i.kind, i.ref))
    vectors = _vectors(engine, candidates, stored)
    labels = _cluster_labels(vectors, distance)

    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[int(label)].append(index)
    titles = {
        key: title
        for key, title in session.execute(
            select(Article.external_id, Article.title).where(Article.tenant_id == tenant_id)
        )
    }
    clusters: list[GapCluster] = []
    unclustered = 0
    for members in groups.values():
        if len(members) < min_size:
            unclustered += len(members)
            continue
        clusters.append(
            _describe(engine, tenant_id, [candidates[i] for i in members], vectors[members], middle, titles)
        )
    clusters.sort(key=lambda c: (-c.contacts, -c.size, -c.recent, c.members[0]))
    return ContentGapReport(
        definition=DEFINITION.format(margin=LOW_SCORE_MARGIN, distance=distance),
        since=since,
        until=until,
        threshold=threshold,
        low_score=LOW_SCORE_MARGIN,
        distance_threshold=distance,
        candidates=len(candidates),
        unclustered=unclustered,
        clusters=clusters[:limit],
    )


def _describe(
    engine: SearchEngine,
    tenant_id: str,
    members: list[_Item],
    vectors: np.ndarray,
    middle: datetime,
    titles: dict[str, str],
) -> GapCluster:
    centre = vectors.mean(axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    closeness = vectors @ centre
    order = sorted(range(len(members)), key=lambda i: (-round(float(closeness[i]), 6), members[i].ref))
    recent = sum(m.created_at >= middle for m in members)
    earlier = len(members) - recent
    scores: dict[str, float] = defaultdict(float)
    for member in members:
        for article_id, score in member.nearest.items():
            scores[article_id] += score / len(members)
    nearest = max(sorted(scores), key=lambda a: scores[a], default=None)
    tags = Counter(tag for m in members for tag in m.tags)
    if tags:
        reason = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    else:
        reason = auto_tag(engine, tenant_id=tenant_id, vector=centre.astype(np.float32))
    return GapCluster(
        size=len(members),
        contacts=sum(m.contact for m in members),
        tickets=sum(m.kind == "ticket" for m in members),
        queries=sum(m.kind == "query" for m in members),
        recent=recent,
        earlier=earlier,
        trend=round(recent / earlier - 1, 3) if earlier else None,
        channels=dict(
            sorted(Counter(m.channel or "(none)" for m in members).items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        why=dict(sorted(Counter(w for m in members for w in m.why).items())),
        suggested_reason=reason,
        nearest_article=NearestArticle(
            id=nearest, title=titles.get(nearest, ""), score=round(scores[nearest], 4)
        )
        if nearest
        else None,
        examples=[
            GapExample(
                kind=members[i].kind,
                ref=members[i].ref,
                text=members[i].text[:500],
                channel=members[i].channel,
                created_at=members[i].created_at,
                why=members[i].why,
            )
            for i in order[:EXAMPLES]
        ],
        members=sorted(f"{m.kind}:{m.ref}" for m in members),
    )
