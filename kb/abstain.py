"""When to abstain: a per-query cut-off from evidence beyond the best article's confidence (issue 13).

The per-language cut-offs compare one number, the best article's confidence, with a line; on the
development shops that abstains on 45 % of out-of-scope queries at 95 % of in-scope ones kept, and no
line does better: the out-of-scope queries that pass are near misses that name another company or
service ("cancel amazon prime", "return label for my zalando order", "refund for my uber ride"). What
tells them apart is cheap and already at hand when a query is ranked: words that occur nowhere in the
tenant's help centre or in its own past tickets (the customers' wording, in their languages), whether
the keyword side and the dense side agree on the best article, whether the encoder parts agree, the
best BM25 score, the query's length and its language.

A logistic model over these (and the confidence's distance to the language's cut-off) is fitted on
the development shops (`deflect eval loso`, reported leave-one-shop-out) and shipped as
kb/abstain_global.json. Because the model is linear in the confidence, it serves as a cut-off moved per
query: `cutoff_shift` solves "model score = its cut" for the confidence, so every shown article still
passes a cut-off (the language's, moved by the query's evidence), the widget, contact form, drafts
and reports keep the one cut-off path (`kb.suggest.article_cutoff`), and a query is answered exactly
when the model says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from core.errors import DeflectError
from embeddings.keyword import analyze
from embeddings.language import LANGUAGES
from kb.ranking import Candidates, RankedArticle

FORMAT = 1
RELATIVE = "confidence_over_cutoff"
GATE_FEATURES = (
    RELATIVE,
    "keyword_best",
    "keyword_agrees",
    "parts_agree",
    "query_words_log",
    "content_words",
    *(f"language_{language}" for language in LANGUAGES),
    "unknown_kb_any",
    "unknown_kb_share",
    "unknown_tenant_any",
    "unknown_tenant_share",
    "unknown_tenant_count",
)
# The cut-off never drops further than this below the language's own: measured leave-one-shop-out,
# the figures are those of the unbounded model (no in-scope query needed more), and a query whose
# evidence is unusual cannot show articles far under the line.
MAX_LOWER = 0.15


class HasText(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def locale(self) -> str: ...


class AbstainModelError(DeflectError):
    """The shipped abstention model is corrupt or built for other encoder parts."""

    code = "abstain_model_invalid"


def gate_features(
    candidates: Candidates,
    ranked: Sequence[RankedArticle],
    *,
    language: str,
    cutoff: float,
    dense_weights: Sequence[float],
    query: str,
    words: Sequence[Sequence[str]],
    kb_vocabulary: frozenset[str],
    ticket_vocabulary: frozenset[str],
) -> np.ndarray:
    """One query's evidence, in GATE_FEATURES order.

    `words`: per content word of the query, its analysed terms (kb KeywordIndex.query_terms); a word is
    unknown to the tenant when none of them is in the help centre's vocabulary or its past tickets'.
    """
    confidence = max((r.confidence for r in ranked), default=-1.0)
    groups = candidates.groups or candidates.keys
    chunk_group = [groups[a] for a in candidates.chunk_article]
    dense = np.asarray(dense_weights, dtype=np.float32) @ candidates.part_cosines
    keyword_best = float(candidates.keyword.max()) if len(candidates.keyword) else 0.0
    agrees = 0.0
    parts_agree = 0.0
    if len(chunk_group):
        top_dense = chunk_group[int(np.argmax(dense))]
        agrees = float(keyword_best > 0 and chunk_group[int(np.argmax(candidates.keyword))] == top_dense)
        tops = [chunk_group[int(np.argmax(row))] for row in candidates.part_cosines]
        parts_agree = float(sum(top == tops[0] for top in tops[1:]))
    unknown_kb = sum(1 for w in words if not any(t in kb_vocabulary for t in w))
    unknown_tenant = sum(1 for w in words if not any(t in kb_vocabulary or t in ticket_vocabulary for t in w))
    n_words = max(len(words), 1)
    return np.array(
        [
            confidence - cutoff,
            keyword_best,
            agrees,
            parts_agree,
            math.log1p(len(query.split())),
            float(len(words)),
            *(float(language == other) for other in LANGUAGES),
            float(unknown_kb > 0),
            unknown_kb / n_words,
            float(unknown_tenant > 0),
            unknown_tenant / n_words,
            float(unknown_tenant),
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class AbstainModel:
    """Standardised logistic coefficients over GATE_FEATURES and the score a query must reach."""

    parts: tuple[str, ...]  # the encoder parts whose cosines the features were computed from
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    cut: float
    features: tuple[str, ...] = GATE_FEATURES
    info: Mapping[str, Any] = field(default_factory=dict)

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z @ np.asarray(self.coef) + self.intercept, dtype=np.float64)

    def cutoff_shift(self, x: np.ndarray) -> float:
        """How far this query's cut-off sits from its language's: the confidence margin at which the
        model's score equals its cut (the model is linear in that margin, whose weight is positive)."""
        i = self.features.index(RELATIVE)
        rest = float(self.scores(x)[0]) - self.coef[i] * (float(x[i]) - self.mean[i]) / self.scale[i]
        margin = self.mean[i] + self.scale[i] * (self.cut - rest) / self.coef[i]
        return max(margin, -MAX_LOWER)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "parts": list(self.parts),
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "cut": self.cut,
            "info": dict(self.info),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def fit_gate(
    x: np.ndarray,
    in_scope: np.ndarray,
    *,
    parts: Sequence[str],
    c: float = 0.3,
    min_kept: float = 0.95,
    info: Mapping[str, Any] | None = None,
) -> AbstainModel:
    """The model on labelled queries (in scope or not), its cut the highest keeping `min_kept` of the
    in-scope ones answered.

    Raises:
        ValueError: both kinds of query are needed, and the confidence must weigh positively.
    """
    from sklearn.linear_model import LogisticRegression  # training only; serving needs numpy alone

    labels = np.asarray(in_scope, dtype=bool)
    if labels.all() or not labels.any():
        raise ValueError("fitting the abstention model needs in-scope and out-of-scope queries")
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-6, x.std(axis=0), 1.0)
    # balanced: out-of-scope queries are a fifth of the development sets, and a customer's stray
    # question matters as much as an answered one.
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    model.fit((x - mean) / scale, labels)
    coef = tuple(float(v) for v in model.coef_[0])
    if coef[GATE_FEATURES.index(RELATIVE)] <= 0:
        raise ValueError("the fitted model does not prefer higher confidence; more labelled queries needed")
    draft = AbstainModel(
        parts=tuple(parts),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=coef,
        intercept=float(model.intercept_[0]),
        cut=0.0,
        info=dict(info or {}),
    )
    kept = np.sort(draft.scores(x)[labels])
    # Abstain below the cut: at most this many in-scope queries may fall under it.
    dropped = int(math.floor((1 - min_kept) * len(kept) + 1e-9))
    cut = float(kept[min(dropped, len(kept) - 1)])
    return AbstainModel(
        parts=draft.parts,
        mean=draft.mean,
        scale=draft.scale,
        coef=draft.coef,
        intercept=draft.intercept,
        cut=cut,
        info=draft.info,
    )


def loads(text: str, *, parts: Sequence[str]) -> AbstainModel:
    """The stored model, checked against the features this code computes and the served encoder parts.

    Raises:
        AbstainModelError: unreadable, or built for other features or encoder parts.
    """
    try:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
        model = AbstainModel(
            parts=tuple(str(p) for p in raw["parts"]),
            features=tuple(str(f) for f in raw["features"]),
            mean=tuple(float(v) for v in raw["mean"]),
            scale=tuple(float(v) for v in raw["scale"]),
            coef=tuple(float(v) for v in raw["coef"]),
            intercept=float(raw["intercept"]),
            cut=float(raw["cut"]),
            info=dict(raw.get("info") or {}),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AbstainModelError(f"abstention model unreadable ({exc})") from exc
    width = len(GATE_FEATURES)
    if model.features != GATE_FEATURES or not (
        len(model.mean) == len(model.scale) == len(model.coef) == width
    ):
        raise AbstainModelError("abstention model was built for other features; rerun deflect eval loso")
    if any(s <= 0 for s in model.scale) or model.coef[GATE_FEATURES.index(RELATIVE)] <= 0:
        raise AbstainModelError("abstention model has a non-positive scale or confidence weight")
    if model.parts != tuple(parts):
        raise AbstainModelError(
            "abstention model was built for other encoder parts than the index serves",
            details={"model": list(model.parts), "served": list(parts)},
        )
    return model


def ticket_terms(tickets: Iterable[HasText]) -> frozenset[str]:
    """The stemmed terms of past tickets, each in its own language: the tenant's customers' words."""
    return frozenset(term for t in tickets for term in analyze(t.text, t.locale))
