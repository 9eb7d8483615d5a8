"""Semantic duplicate detection: candidates from the same customer and the vector index, scored with reasons.

A duplicate is the same person with the same problem. Similar wording alone is not enough (many
customers write "where is my order?"), and the same person or order alone is not enough either (a
customer may have a new problem). The score therefore multiplies message similarity by the strength
of the "same person" evidence, and lowers it when the two messages carry different reason tags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.calibration import calibrated_threshold
from embeddings.collection import SearchFilter
from history.identity import LINK_LABEL, LINK_STRENGTH, normalise_text
from history.lookup import get_ticket, ticket_order_ids
from history.models import Ticket
from history.schemas import DuplicateCandidate

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

COLLECTION = "duplicates"
# Used until `deflect eval duplicates --store-tenant T` calibrates one; 0.32 is what that chose for
# use+minilm on the demo pairs (cross-validated thresholds 0.32-0.34).
DEFAULT_THRESHOLD = 0.32
SHARED_ORDER_EVIDENCE = 0.95
SAME_NAME_EVIDENCE = 0.3
# Without any "same person" evidence a message keeps this share of its similarity.
BASE_WEIGHT = 0.2
TOPIC_MISMATCH = 0.55
# Both messages name an order and none is shared: a second problem, not a re-contact.
DIFFERENT_ORDERS = 0.5
TOPIC_UNKNOWN = 0.85
TIME_DECAY = 0.25
INDEX_CANDIDATES = 20
CUSTOMER_CANDIDATES = 50


@dataclass
class PoolEntry:
    """A ticket written in the current batch, not yet visible to the index."""

    ticket: Ticket
    vector: np.ndarray


@dataclass(frozen=True)
class PairFeatures:
    similarity: float
    shared_orders: tuple[str, ...]
    distinct_orders: tuple[tuple[str, ...], tuple[str, ...]]
    same_customer: bool
    link_kind: str | None
    name_similarity: float
    gap_days: float
    tags_a: tuple[str, ...]
    tags_b: tuple[str, ...]


def duplicate_threshold(session: Session, *, tenant_id: str, encoder: str) -> float:
    """The tenant's calibrated duplicate threshold for this encoder, else the shipped default."""
    return calibrated_threshold(
        session, tenant_id=tenant_id, collection=COLLECTION, encoder=encoder, default=DEFAULT_THRESHOLD
    )


def _weakest_link(a: Ticket, b: Ticket) -> str:
    """Two contacts are as surely one person as the weaker of the two ties to their customer."""
    kinds = [a.link_kind or "new", b.link_kind or "new"]
    return min(kinds, key=lambda k: LINK_STRENGTH.get(k, 0.0))


def pair_features(
    a: Ticket, b: Ticket, va: np.ndarray, vb: np.ndarray, orders_a: list[str] | None = None
) -> PairFeatures:

    orders_b = set(ticket_order_ids(b))
    own_orders = orders_a if orders_a is not None else ticket_order_ids(a)
    shared = tuple(o for o in own_orders if o in orders_b)
    distinct = (
        ((), ()) if shared or not own_orders or not orders_b else (tuple(own_orders), tuple(sorted(orders_b)))
    )
    same_customer = a.customer_id is not None and a.customer_id == b.customer_id
    name_a, name_b = normalise_text(a.contact.get("name") or ""), normalise_text(b.contact.get("name") or "")
    return PairFeatures(
        similarity=float(np.dot(va, vb)),
        shared_orders=shared,
        distinct_orders=distinct,
        same_customer=same_customer,
        link_kind=_weakest_link(a, b) if same_customer else None,
        name_similarity=fuzz.token_sort_ratio(name_a, name_b) / 100 if name_a and name_b else 0.0,
        gap_days=abs((a.created_at - b.created_at).total_seconds()) / 86400,
        tags_a=tuple(a.tags),
        tags_b=tuple(b.tags),
    )


def _gap_words(days: float) -> str:
    hours = days * 24
    if hours < 1:
        return f"{max(1, round(hours * 60))} minutes apart"
    if hours < 48:
        return f"{round(hours)} hours apart"
    return f"{round(days)} days apart"


def score_pair(features: PairFeatures, *, window_days: int) -> tuple[float, list[str]]:
    """Score in [0, 1] and the human-readable reasons behind it."""
    reasons = [f"similar wording (cosine {features.similarity:.2f})"]
    evidence = 0.0
    if features.same_customer and features.link_kind is not None:
        evidence = LINK_STRENGTH.get(features.link_kind, 0.5)
        reasons.append(f"same customer ({LINK_LABEL.get(features.link_kind, features.link_kind)})")
    if features.shared_orders:
        evidence = max(evidence, SHARED_ORDER_EVIDENCE)
        reasons.append(f"both mention order {', '.join(features.shared_orders)}")
    if evidence == 0.0:
        if features.name_similarity >= 0.9:
            evidence = SAME_NAME_EVIDENCE
            reasons.append("same customer name, but no shared identity or order")
        else:
            reasons.append("different customers and no shared order")
    topic = TOPIC_UNKNOWN
    if features.tags_a and features.tags_b:
        common = sorted(set(features.tags_a) & set(features.tags_b))
        if common:
            topic = 1.0
            reasons.append(f"same reason: {', '.join(common)}")
        else:
            topic = TOPIC_MISMATCH
            reasons.append(f"different reasons: {', '.join(features.tags_a)} vs {', '.join(features.tags_b)}")
    order_factor = 1.0
    if features.distinct_orders[0]:
        order_factor = DIFFERENT_ORDERS
        reasons.append(
            f"about different orders: {', '.join(features.distinct_orders[0])} vs "
            f"{', '.join(features.distinct_orders[1])}"
        )
    time_factor = 1.0 - TIME_DECAY * min(features.gap_days / window_days, 1.0)
    reasons.append(_gap_words(features.gap_days))
    similarity = max(features.similarity, 0.0)
    score = similarity * (BASE_WEIGHT + (1 - BASE_WEIGHT) * evidence) * topic * time_factor * order_factor
    return round(score, 4), reasons


def _vector(ticket: Ticket, encoder_name: str) -> np.ndarray | None:
    if ticket.embedding is None or ticket.embedding_model != encoder_name:
        return None
    return np.frombuffer(ticket.embedding, dtype=np.float32)


def find_duplicates(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    ticket: Ticket,
    vector: np.ndarray | None = None,
    window_days: int = 14,
    threshold: float,
    pool: list[PoolEntry] | None = None,
    min_score: float | None = None,
    top_k: int = 10,
) -> list[DuplicateCandidate]:
    """Scored candidates within the window, best first; only those at or above `min_score` (default:
    threshold)."""

    if vector is None:
        vector = _vector(ticket, engine.encoder.name)
        if vector is None:
            vector = engine.encoder.encode([ticket.text], kind="passage")[0]
    window = timedelta(days=window_days)
    start, end = ticket.created_at - window, ticket.created_at + window
    # Whole days keep the filter identical for every ticket of a day, so the engine's mask cache hits.
    since = math.floor(start.timestamp() / 86400) * 86400.0
    until = math.ceil(end.timestamp() / 86400) * 86400.0

    candidate_ids: dict[int, None] = {}
    collection = engine.collection(tenant_id, "tickets")
    for hit in collection.search(
        "",
        vector,
        top_k=INDEX_CANDIDATES + 1,
        mode="dense",
        flt=SearchFilter(since=since, until=until),
        candidates=INDEX_CANDIDATES + 1,
    ):
        candidate_ids.setdefault(hit.item.item_id, None)
    if ticket.customer_id is not None:
        for other_id in session.scalars(
            select(Ticket.id)
            .where(
                Ticket.tenant_id == tenant_id,
                Ticket.customer_id == ticket.customer_id,
                Ticket.created_at >= start,
                Ticket.created_at <= end,
            )
            .order_by(Ticket.created_at.desc())
            .limit(CUSTOMER_CANDIDATES)
        ):
            candidate_ids.setdefault(other_id, None)
    pooled = {entry.ticket.id: entry for entry in pool or [] if start <= entry.ticket.created_at <= end}
    for other_id in pooled:
        candidate_ids.setdefault(other_id, None)
    candidate_ids.pop(ticket.id, None)
    if not candidate_ids:
        return []

    others = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(candidate_ids))))}
    vectors: dict[int, np.ndarray] = {}
    missing: list[Ticket] = []
    for other_id, other in others.items():
        if ticket.merge_group_id is not None and other.merge_group_id == ticket.merge_group_id:
            continue  # already merged with this ticket
        found = pooled[other_id].vector if other_id in pooled else _vector(other, engine.encoder.name)
        if found is None:
            missing.append(other)
        else:
            vectors[other_id] = found
    if missing:
        for other, encoded in zip(
            missing, engine.encoder.encode([t.text for t in missing], kind="passage"), strict=True
        ):
            vectors[other.id] = encoded

    floor = threshold if min_score is None else min_score
    own_orders = ticket_order_ids(ticket)
    scored: list[DuplicateCandidate] = []
    for other_id, other_vector in vectors.items():
        other = others[other_id]
        features = pair_features(ticket, other, vector, other_vector, orders_a=own_orders)
        score, reasons = score_pair(features, window_days=window_days)
        if score < floor:
            continue
        scored.append(
            DuplicateCandidate(
                ticket_id=other.external_id,
                channel=other.channel,
                customer_id=other.customer_id,
                created_at=other.created_at,
                subject=other.subject,
                score=score,
                is_duplicate=score >= threshold,
                similarity=round(float(np.dot(vector, other_vector)), 4),
                reasons=reasons,
            )
        )
    scored.sort(key=lambda c: -c.score)
    return scored[:top_k]


def duplicates_of(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    ticket_id: str,
    window_days: int,
    min_score: float | None = None,
    top_k: int = 10,
) -> tuple[float, list[DuplicateCandidate]]:
    """On-demand check of a stored ticket; catches the index up first so recent tickets are seen."""

    ticket = get_ticket(session, tenant_id=tenant_id, ticket_id=ticket_id)
    engine.catch_up(tenant_id, "tickets")
    threshold = duplicate_threshold(session, tenant_id=tenant_id, encoder=engine.encoder.name)
    return threshold, find_duplicates(
        session,
        engine,
        tenant_id=tenant_id,
        ticket=ticket,
        window_days=window_days,
        threshold=threshold,
        min_score=min_score,
        top_k=top_k,
    )
