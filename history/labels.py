"""Label ranking over retrieved neighbours, for label-only query sets (intent/topic labels).

A query's labels are ranked by label-aware voting over its nearest labelled items instead of
the label of the single nearest one: each neighbour votes for its label with a softmax weight of
its similarity, so one stray near-duplicate cannot outvote five consistent neighbours. Dense
and keyword neighbours vote separately and their label distributions are mixed (fusion at the
label level, where the two score scales need not be comparable). Optionally a linear head
(multinomial logistic regression over the frozen sentence vectors of the indexed items) adds a
tenant-adapted opinion; it trains in seconds on CPU and is the cheap half of SetFit.

Settings below were chosen by leave-one-out on BANKING77 *training* tickets and on CLINC150
*validation* queries, never on a test split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from embeddings.collection import Hit

DENSE_NEIGHBOURS = 20
DENSE_TEMPERATURE = 0.05  # cosine units: a neighbour 0.05 less similar weighs e times less
KEYWORD_NEIGHBOURS = 20
KEYWORD_TEMPERATURE = 0.1  # fraction of the top BM25 score
KEYWORD_WEIGHT = 0.1  # share of the keyword votes in the fused label distribution
HEAD_WEIGHT = 0.5  # share of the linear head when one is trained
HEAD_C = 30.0  # inverse L2 strength of the head: the vectors are already good features
CONFIDENCE_HEAD_WEIGHT = 0.3  # abstention score = top cosine + this × head's top probability


@dataclass(frozen=True)
class LabelRanking:
    labels: list[str]  # best first, distinct
    confidence: float  # higher = more sure the query is in scope


def _softmax_votes(pairs: Sequence[tuple[str, float]], temperature: float) -> dict[str, float]:
    """Label distribution from (label, score) neighbours, each weighted by exp((score - best) / T)."""
    if not pairs:
        return {}
    best = max(score for _, score in pairs)
    votes: dict[str, float] = {}
    for label, score in pairs:
        votes[label] = votes.get(label, 0.0) + math.exp((score - best) / temperature)
    total = sum(votes.values())
    return {label: v / total for label, v in votes.items()}


def dense_votes(hits: Sequence[Hit], k: int = DENSE_NEIGHBOURS) -> dict[str, float]:
    ranked = sorted((h for h in hits if h.dense_score is not None), key=lambda h: -(h.dense_score or 0.0))[:k]
    return _softmax_votes(
        [(h.item.labels[0], h.dense_score or 0.0) for h in ranked if h.item.labels], DENSE_TEMPERATURE
    )


def keyword_votes(hits: Sequence[Hit], k: int = KEYWORD_NEIGHBOURS) -> dict[str, float]:
    ranked = sorted((h for h in hits if h.bm25_score is not None), key=lambda h: -(h.bm25_score or 0.0))[:k]
    pairs = [(h.item.labels[0], h.bm25_score or 0.0) for h in ranked if h.item.labels]
    if not pairs:
        return {}
    scale = max(score for _, score in pairs) * KEYWORD_TEMPERATURE or 1.0
    return _softmax_votes(pairs, scale)


def mix(parts: Sequence[tuple[dict[str, float], float]]) -> dict[str, float]:
    """Weighted sum of label distributions; an empty part gives its weight to the others."""
    present = [(dist, w) for dist, w in parts if dist and w > 0]
    total = sum(w for _, w in present)
    out: dict[str, float] = {}
    for dist, w in present:
        for label, p in dist.items():
            out[label] = out.get(label, 0.0) + p * w / total
    return out


class LabelHead:
    """Multinomial logistic regression on the indexed items' vectors (first label of each item)."""

    def __init__(self, vectors: np.ndarray, labels: Sequence[str]) -> None:
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("a label head needs at least two labels")
        self._model = LogisticRegression(C=HEAD_C, max_iter=300)
        self._model.fit(vectors, list(labels))
        self.classes: list[str] = [str(c) for c in self._model.classes_]

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """Rows of class probabilities, columns in `self.classes` order."""
        return np.asarray(self._model.predict_proba(vectors))


def rank_labels(
    dense_hits: Sequence[Hit] | None,
    keyword_hits: Sequence[Hit] | None,
    head_probabilities: dict[str, float] | None = None,
) -> LabelRanking:
    """Fused label ranking and its abstention confidence.

    Without dense hits (keyword-only system) the confidence is the top BM25 score, a scale that
    only a calibration on the same system makes meaningful.
    """
    parts: list[tuple[dict[str, float], float]] = []
    if dense_hits is not None:
        parts.append((dense_votes(dense_hits), 1.0 - KEYWORD_WEIGHT if keyword_hits is not None else 1.0))
    if keyword_hits is not None:
        parts.append((keyword_votes(keyword_hits), KEYWORD_WEIGHT if dense_hits is not None else 1.0))
    votes = mix(parts)
    if head_probabilities:
        votes = mix([(votes, 1.0 - HEAD_WEIGHT), (head_probabilities, HEAD_WEIGHT)])
    labels = sorted(votes, key=lambda label: -votes[label])
    if dense_hits is not None:
        top_cosine = max((h.dense_score for h in dense_hits if h.dense_score is not None), default=0.0)
        confidence = top_cosine + (
            CONFIDENCE_HEAD_WEIGHT * max(head_probabilities.values()) if head_probabilities else 0.0
        )
    else:
        confidence = max((h.bm25_score for h in keyword_hits or () if h.bm25_score is not None), default=0.0)
    return LabelRanking(labels=labels, confidence=float(confidence))
