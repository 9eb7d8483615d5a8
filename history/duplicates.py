"""Semantic duplicate detection: candidates from the same customer and the vector index, scored with reasons.

A duplicate is the same person with the same problem. Similar wording alone is not enough (many
customers write "where is my order?"), and the same person or order alone is not enough either (a
customer may have a new problem). The score therefore multiplies message similarity by the strength
of the "same person" evidence, and lowers it when the two messages are about different reasons or
far apart in time.

Language-aware: the similarity is taken on the multilingual half of a concatenated encoder (USE in
use+minilm), because the English-only MiniLM half scores a French re-contact of an English ticket as
unrelated. Human reason tags are trusted; a machine-guessed tag is not, so an auto-tagged pair is
compared by its reason profile (soft similarity to every reason description) instead of the argmax.
Every weight here was chosen by leave-one-shop-out over the development shops
(`deflect eval duplicates --loso`), never on the demo shop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.calibration import calibrated_threshold
from embeddings.collection import SearchFilter
from embeddings.encoder import UniversalSentenceEncoder
from history.identity import LINK_LABEL, LINK_STRENGTH, normalise_text
from history.lookup import get_ticket, ticket_order_ids
from history.models import Ticket
from history.schemas import DuplicateCandidate
from history.tagging import reason_description_vectors

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

# Calibrations are keyed by this: v1 thresholds were fitted to the score before language-aware
# similarity and reason profiles, a different scale, so they must not apply to this one.
COLLECTION = "duplicates-v2"
SimilarityKind = Literal["full", "multilingual", "language_aware"]


@dataclass(frozen=True)
class DuplicateWeights:
    """The tunables of `score_pair`. Defaults: see DEFAULT_WEIGHTS."""

    # full: cosine of the whole vector; multilingual: of the encoder's multilingual half only;
    # language_aware: the multilingual half when the two locales differ, else the whole vector.
    similarity: SimilarityKind = "multilingual"
    # Without any "same person" evidence a message keeps this share of its similarity.
    base_weight: float = 0.2
    shared_order_evidence: float = 0.95
    same_name_evidence: float = 0.7
    # Both tickets carry human tags and share none.
    topic_mismatch: float = 0.4
    # Neither side has tags at all.
    topic_unknown: float = 0.85
    # A side is auto-tagged: the score keeps 1 - profile_weight * (1 - reason-profile cosine).
    profile_weight: float = 0.5
    # Softmax temperature (cosine units) of the reason profile.
    profile_temperature: float = 0.02
    # Both messages name an order and none is shared: a second problem, not a re-contact.
    different_orders: float = 0.5
    # Share of the score lost at the edge of the window (linear in the gap).
    time_decay: float = 0.75


# Chosen by `deflect eval duplicates --loso` on the twelve development shops (devshops/, devdrafts/), with
# and without human tags (mean F1 over shops x tag modes; eval/results/duplicates-loso-12-centroids.md). Held
# out in turn, each shop was scored with a choice made on the other eleven: these weights in every fold.
# With the reason centroids of history/tagging.py the threshold rose from 0.2132 to 0.2244. On fifteen shops
# (stop 39, eval/results/duplicates-loso-15.md; the search now keeps the threshold above base_weight, what two
# strangers' identical words score) it prefers language-aware similarity, profile weight 0.75, temperature
# 0.05 and threshold 0.201, on that floor's edge. Not adopted: pooled held-out F1 0.965 / 0.888 (human / auto
# tags) against 0.962 / 0.897 with these. Stop 40 searched the evidence of a full name shared without any
# identity link (a marketplace alias on one side, a personal address on the other: "Rocío Manzano Prieto" and
# "Rocío Manzano"): every fold chose 0.7 over 0.3 (eval/results/duplicates-loso-15-names.md: pooled held-out
# F1 0.965 -> 0.988 human, 0.888 -> 0.924 auto-tagged), the other weights and the threshold unchanged.
DEFAULT_WEIGHTS = DuplicateWeights()
# Used until `deflect eval duplicates --store-tenant T` calibrates one for the tenant.
DEFAULT_THRESHOLD = 0.2244
INDEX_CANDIDATES = 20
CUSTOMER_CANDIDATES = 50

# Concatenated encoders put their multilingual part first (embeddings/encoder.py load_encoder); its width.
_MULTILINGUAL_WIDTH: dict[str, int] = {
    "use+minilm": UniversalSentenceEncoder.dim,
    "use+minilm-multilingual": UniversalSentenceEncoder.dim,
}


@dataclass
class PoolEntry:
    """A ticket written in the current batch, not yet visible to the index."""

    ticket: Ticket
    vector: np.ndarray


@dataclass(frozen=True)
class PairFeatures:
    similarity: float
    multilingual_similarity: float
    languages: tuple[str, str]
    shared_orders: tuple[str, ...]
    distinct_orders: tuple[tuple[str, ...], tuple[str, ...]]
    same_customer: bool
    link_kind: str | None
    name_similarity: float
    gap_days: float
    tags_a: tuple[str, ...]
    tags_b: tuple[str, ...]
    # Both sides' tags were set by a person (import or agent), not guessed by auto-tagging.
    human_tags: bool
    # Cosine of each message to each reason description (TAGS order), on the multilingual part.
    reasons_a: tuple[float, ...]
    reasons_b: tuple[float, ...]


@dataclass(frozen=True)
class Candidate:
    """A ticket that may duplicate the one being checked, with everything its score is made of."""

    ticket: Ticket
    features: PairFeatures


def duplicate_threshold(session: Session, *, tenant_id: str, encoder: str) -> float:
    """The tenant's calibrated duplicate threshold for this encoder, else the shipped default."""
    return calibrated_threshold(
        session, tenant_id=tenant_id, collection=COLLECTION, encoder=encoder, default=DEFAULT_THRESHOLD
    )


def multilingual_part(encoder_name: str, vectors: np.ndarray) -> np.ndarray:
    """The rows' multilingual part, re-normalised; the whole rows for encoders that are not concatenated."""
    width = _MULTILINGUAL_WIDTH.get(encoder_name)
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    if width is None or matrix.shape[1] <= width:
        return matrix
    part = matrix[:, :width]
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = part / norms
    return normalised


def _weakest_link(a: Ticket, b: Ticket) -> str:
    """Two contacts are as surely one person as the weaker of the two ties to their customer."""
    kinds = [a.link_kind or "new", b.link_kind or "new"]
    return min(kinds, key=lambda k: LINK_STRENGTH.get(k, 0.0))


def name_similarity(name_a: str, name_b: str) -> float:
    """How alike two normalised customer names are, in [0, 1].

    One writes "Rocío Manzano Prieto" on Amazon and "Rocío Manzano" in an e-mail: a second surname, a
    middle name or a title dropped leaves a name whose words all recur in the longer one. Where at least
    two words are shared that counts as the same name (token_set_ratio); a single shared first name
    ("Anna" vs "Anna Weber") does not."""
    if not name_a or not name_b:
        return 0.0
    if len(set(name_a.split()) & set(name_b.split())) >= 2:
        return fuzz.token_set_ratio(name_a, name_b) / 100
    return fuzz.token_sort_ratio(name_a, name_b) / 100


def pair_features(
    a: Ticket,
    b: Ticket,
    va: np.ndarray,
    vb: np.ndarray,
    *,
    encoder_name: str,
    reason_vectors: np.ndarray,
    orders_a: list[str] | None = None,
) -> PairFeatures:
    """What the score of (a, b) is made of (`reason_vectors`: history.tagging.reason_description_vectors)."""

    orders_b = set(ticket_order_ids(b))
    own_orders = orders_a if orders_a is not None else ticket_order_ids(a)
    shared = tuple(o for o in own_orders if o in orders_b)
    distinct = (
        ((), ()) if shared or not own_orders or not orders_b else (tuple(own_orders), tuple(sorted(orders_b)))
    )
    same_customer = a.customer_id is not None and a.customer_id == b.customer_id
    name_a, name_b = normalise_text(a.contact.get("name") or ""), normalise_text(b.contact.get("name") or "")
    parts = multilingual_part(encoder_name, np.vstack([va, vb]))
    reasons = parts @ multilingual_part(encoder_name, reason_vectors).T
    return PairFeatures(
        similarity=float(np.dot(va, vb)),
        multilingual_similarity=float(np.dot(parts[0], parts[1])),
        languages=(a.locale, b.locale),
        shared_orders=shared,
        distinct_orders=distinct,
        same_customer=same_customer,
        link_kind=_weakest_link(a, b) if same_customer else None,
        name_similarity=name_similarity(name_a, name_b),
        gap_days=abs((a.created_at - b.created_at).total_seconds()) / 86400,
        tags_a=tuple(a.tags),
        tags_b=tuple(b.tags),
        human_tags=a.tag_source != "auto" and b.tag_source != "auto",
        reasons_a=tuple(float(x) for x in reasons[0]),
        reasons_b=tuple(float(x) for x in reasons[1]),
    )


def _gap_words(days: float) -> str:
    hours = days * 24
    if hours < 1:
        return f"{max(1, round(hours * 60))} minutes apart"
    if hours < 48:
        return f"{round(hours)} hours apart"
    return f"{round(days)} days apart"


def pair_similarity(features: PairFeatures, kind: SimilarityKind) -> tuple[float, str]:
    """The similarity the score uses, and its label for the reasons."""
    if kind == "multilingual" or (
        kind == "language_aware" and features.languages[0] != features.languages[1]
    ):
        return features.multilingual_similarity, "multilingual cosine"
    return features.similarity, "cosine"


def reason_profile_similarity(features: PairFeatures, temperature: float) -> float:
    """Cosine of the two messages' soft reason distributions (softmax over reason-description cosines)."""
    a, b = np.asarray(features.reasons_a), np.asarray(features.reasons_b)
    pa, pb = np.exp((a - a.max()) / temperature), np.exp((b - b.max()) / temperature)
    return float(pa @ pb / (np.linalg.norm(pa) * np.linalg.norm(pb)))


def _topic(features: PairFeatures, weights: DuplicateWeights) -> tuple[float, str]:
    if not features.tags_a or not features.tags_b:
        return weights.topic_unknown, "reason unknown"
    common = sorted(set(features.tags_a) & set(features.tags_b))
    if features.human_tags:
        if common:
            return 1.0, f"same reason: {', '.join(common)}"
        return weights.topic_mismatch, (
            f"different reasons: {', '.join(features.tags_a)} vs {', '.join(features.tags_b)}"
        )
    # A guessed tag is right about half the time (zero-shot, no tagged history): its argmax would
    # wrongly split true re-contacts, so the soft profiles are compared instead.
    agreement = reason_profile_similarity(features, weights.profile_temperature)
    tags = (
        f"auto-tagged {', '.join(common)}"
        if common
        else f"auto-tagged {', '.join(features.tags_a)} vs {', '.join(features.tags_b)}"
    )
    return 1.0 - weights.profile_weight * (1.0 - agreement), f"reason profiles agree {agreement:.2f} ({tags})"


def score_pair(
    features: PairFeatures, *, window_days: int, weights: DuplicateWeights = DEFAULT_WEIGHTS
) -> tuple[float, list[str]]:
    """Score in [0, 1] and the human-readable reasons behind it."""
    similarity, label = pair_similarity(features, weights.similarity)
    reasons = [f"similar wording ({label} {similarity:.2f})"]
    evidence = 0.0
    if features.same_customer and features.link_kind is not None:
        evidence = LINK_STRENGTH.get(features.link_kind, 0.5)
        reasons.append(f"same customer ({LINK_LABEL.get(features.link_kind, features.link_kind)})")
    if features.shared_orders:
        evidence = max(evidence, weights.shared_order_evidence)
        reasons.append(f"both mention order {', '.join(features.shared_orders)}")
    if evidence == 0.0:
        if features.name_similarity >= 0.9:
            evidence = weights.same_name_evidence
            reasons.append("same customer name, but no shared identity or order")
        else:
            reasons.append("different customers and no shared order")
    topic, topic_reason = _topic(features, weights)
    reasons.append(topic_reason)
    order_factor = 1.0
    if features.distinct_orders[0]:
        order_factor = weights.different_orders
        reasons.append(
            f"about different orders: {', '.join(features.distinct_orders[0])} vs "
            f"{', '.join(features.distinct_orders[1])}"
        )
    time_factor = 1.0 - weights.time_decay * min(features.gap_days / window_days, 1.0)
    reasons.append(_gap_words(features.gap_days))
    score = (
        max(similarity, 0.0)
        * (weights.base_weight + (1 - weights.base_weight) * evidence)
        * topic
        * time_factor
        * order_factor
    )
    return round(score, 4), reasons


def _vector(ticket: Ticket, encoder_name: str) -> np.ndarray | None:
    if ticket.embedding is None or ticket.embedding_model != encoder_name:
        return None
    return np.frombuffer(ticket.embedding, dtype=np.float32)


def duplicate_candidates(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    ticket: Ticket,
    vector: np.ndarray | None = None,
    window_days: int = 14,
    pool: list[PoolEntry] | None = None,
) -> list[Candidate]:
    """Every ticket within the window that the index or the same customer surfaces, with its pair
    features, unscored (the evaluation scores one candidate set under many weightings)."""

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

    own_orders = ticket_order_ids(ticket)
    reason_vectors = reason_description_vectors(engine.encoder)
    return [
        Candidate(
            ticket=others[other_id],
            features=pair_features(
                ticket,
                others[other_id],
                vector,
                other_vector,
                encoder_name=engine.encoder.name,
                reason_vectors=reason_vectors,
                orders_a=own_orders,
            ),
        )
        for other_id, other_vector in vectors.items()
    ]


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
    weights: DuplicateWeights = DEFAULT_WEIGHTS,
) -> list[DuplicateCandidate]:
    """Scored candidates within the window, best first; only those at or above `min_score` (default:
    threshold)."""

    floor = threshold if min_score is None else min_score
    scored: list[DuplicateCandidate] = []
    for candidate in duplicate_candidates(
        session, engine, tenant_id=tenant_id, ticket=ticket, vector=vector, window_days=window_days, pool=pool
    ):
        score, reasons = score_pair(candidate.features, window_days=window_days, weights=weights)
        if score < floor:
            continue
        other = candidate.ticket
        scored.append(
            DuplicateCandidate(
                ticket_id=other.external_id,
                channel=other.channel,
                customer_id=other.customer_id,
                created_at=other.created_at,
                subject=other.subject,
                score=score,
                is_duplicate=score >= threshold,
                similarity=round(pair_similarity(candidate.features, weights.similarity)[0], 4),
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
