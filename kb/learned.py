"""A learned ranker over the scores the hand-tuned ranking already computes (issue 13, item 4).

Per (query, article) the features are: each encoder part's best-chunk cosine (absolute and against the
query's best), the hand-tuned score (`kb.ranking.rank`) and its gap to the best, the BM25 share and the
article's keyword rank, query-term coverage, past-ticket votes, channel match, locale match (the
customer's language / English / a third one) and the widget feedback priors (click prior, helpful and
contact-anyway rates, kb/feedback.py). A logistic regression turns them into the probability that the
article answers the query, which orders the articles. Abstention stays with the hand-tuned confidence
and the shipped per-language cut-off (one cut-off for the widget, drafts and reports): measured
leave-one-shop-out, the model's own probability abstained on fewer out-of-scope queries at the same
share kept (eval/results/README.md).

Two kinds of model:
- global: trained on the development shops (shipped as kb/ranker_global.json, reported
  leave-one-shop-out by `deflect eval loso`);
- tenant: a residual fitted on one tenant's resolved tickets and widget feedback, on top of the global
  model's logit (its first feature), so a few hundred rows re-weight the global model instead of
  replacing it.

Models are plain JSON (coefficients, scaling, feature names) with a SHA-256 over the canonical form:
nothing is unpickled from the database, and a model whose features do not match the encoder parts
being served is refused rather than silently misread.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from core.errors import DeflectError
from kb.ranking import Candidates, RankedArticle, RankingParams, language_tier, rank

FORMAT = 1
ModelKind = Literal["global", "tenant"]
BASE_FEATURES = (
    "hand_score",
    "hand_gap",
    "hand_confidence",
    "keyword_share",
    "keyword_rank",
    "coverage",
    "votes",
    "channel_match",
    "locale_same",
    "locale_en",
    "locale_third",
    "query_en",
    "click_prior",
    "helpful_rate",
    "contact_rate",
)


class RankerModelError(DeflectError):
    """A stored ranker model is corrupt, altered or built for other encoder parts."""

    code = "ranker_model_invalid"


@dataclass(frozen=True)
class ArticlePriors:
    """Feedback priors per article (kb/feedback.py); articles without events get the neutral values."""

    click_prior: Mapping[str, float] = field(default_factory=dict)
    helpful_rate: Mapping[str, float] = field(default_factory=dict)
    contact_rate: Mapping[str, float] = field(default_factory=dict)
    default_helpful: float = 0.5
    default_contact: float = 0.0


NO_PRIORS = ArticlePriors()


def feature_names(parts: Sequence[str]) -> list[str]:
    """The feature vector's names for an article index with these encoder parts."""
    names = [f"cos:{p}" for p in parts] + [f"cos_gap:{p}" for p in parts]
    names += [f"cos_en:{p}" for p in parts]  # English queries weigh the parts differently (models.md)
    return names + list(BASE_FEATURES)


@dataclass
class ArticleRows:
    """One query's candidate articles: their features, and the hand ranking's view of each."""

    hand: list[RankedArticle]  # uncollapsed, best first by the hand-tuned score
    features: np.ndarray  # (len(hand), features)


def article_rows(
    candidates: Candidates,
    *,
    language: str,
    params: RankingParams,
    priors: ArticlePriors = NO_PRIORS,
    limit: int | None = None,
) -> ArticleRows:
    """Features of each candidate article (the best `limit` by the hand-tuned score, else all)."""
    hand = rank(candidates, language=language, params=replace(params, collapse_translations=False))
    if limit is not None:
        hand = hand[:limit]
    parts = candidates.part_cosines.shape[0]
    n = len(hand)
    width = 3 * parts + len(BASE_FEATURES)
    if n == 0:
        return ArticleRows(hand=[], features=np.zeros((0, width), dtype=np.float32))
    position = {key: i for i, key in enumerate(candidates.keys)}
    article_index = np.array([position[r.key] for r in hand], dtype=np.int64)
    n_articles = len(candidates.keys)
    best_part = np.full((parts, n_articles), -1.0, dtype=np.float32)
    for p in range(parts):
        np.maximum.at(best_part[p], candidates.chunk_article, candidates.part_cosines[p])
    cos = best_part[:, article_index].T  # (n, parts)
    gap = cos - candidates.part_cosines.max(axis=1)[None, :]
    query_en = 1.0 if language == "en" else 0.0
    keyword_best = np.zeros(n_articles, dtype=np.float32)
    np.maximum.at(keyword_best, candidates.chunk_article, candidates.keyword.astype(np.float32))
    top_keyword = float(keyword_best.max()) if n_articles else 0.0
    keyword_share = keyword_best / top_keyword if top_keyword > 0 else np.zeros_like(keyword_best)
    # Reciprocal rank among the articles the keywords matched at all; 0 for no match.
    order = np.argsort(-keyword_best, kind="stable")
    keyword_rank = np.zeros(n_articles, dtype=np.float32)
    for place, a in enumerate(order):
        if keyword_best[a] > 0:
            keyword_rank[a] = 1.0 / (1.0 + place)
    coverage = np.zeros(n_articles, dtype=np.float32)
    if candidates.coverage is not None and len(candidates.coverage) == len(candidates.chunk_article):
        np.maximum.at(coverage, candidates.chunk_article, candidates.coverage.astype(np.float32))
    votes = candidates.votes if len(candidates.votes) == n_articles else np.zeros(n_articles, np.float32)
    best_score = hand[0].score
    rows = np.zeros((n, width), dtype=np.float32)
    rows[:, :parts] = cos
    rows[:, parts : 2 * parts] = gap
    rows[:, 2 * parts : 3 * parts] = cos * query_en
    for i, (r, a) in enumerate(zip(hand, article_index, strict=True)):
        tier = language_tier(r.locale, language)
        rows[i, 3 * parts :] = (
            r.score,
            r.score - best_score,
            r.confidence,
            keyword_share[a],
            keyword_rank[a],
            coverage[a],
            votes[a],
            float(candidates.channel_match[a]),
            float(tier == 0),
            float(tier == 1),
            float(tier == 2),
            query_en,
            math.log(max(priors.click_prior.get(r.key, 1.0), 1e-3)),
            priors.helpful_rate.get(r.key, priors.default_helpful) - 0.5,
            priors.contact_rate.get(r.key, priors.default_contact),
        )
    return ArticleRows(hand=hand, features=rows)


@dataclass(frozen=True)
class LearnedRanker:
    """A logistic model over standardised features; a tenant model stacks on its global `base`."""

    kind: ModelKind
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]  # a tenant model: [global logit, *features]
    intercept: float
    base: LearnedRanker | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def logits(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean, dtype=np.float64)) / np.asarray(self.scale, dtype=np.float64)
        if self.base is not None:
            z = np.column_stack([self.base.logits(x), z])
        return np.asarray(z @ np.asarray(self.coef, dtype=np.float64) + self.intercept, dtype=np.float64)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logits(x))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "base": self.base.to_dict() if self.base is not None else None,
            "info": dict(self.info),
        }

    def dumps(self) -> tuple[str, str]:
        """The model as canonical JSON and its SHA-256."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return text, hashlib.sha256(text.encode()).hexdigest()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), dtype=np.float64)


def loads(text: str, *, sha256: str | None, parts: Sequence[str]) -> LearnedRanker:
    """A stored model, checked: its checksum, its format, and features built for these encoder parts.

    Raises:
        RankerModelError: what is wrong and that the caller should retrain (`deflect tune`).
    """
    if sha256 is not None and hashlib.sha256(text.encode()).hexdigest() != sha256:
        raise RankerModelError(
            "ranker model checksum mismatch: the stored model was altered; run deflect tune"
        )
    try:
        model = _from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise RankerModelError(f"ranker model unreadable ({exc}); run deflect tune") from exc
    expected = tuple(feature_names(parts))
    if model.features != expected:
        raise RankerModelError(
            "ranker model was trained for other encoder parts than the index serves; run deflect tune",
            details={"model": list(model.features), "expected": list(expected)},
        )
    return model


def _from_dict(raw: Mapping[str, Any]) -> LearnedRanker:
    if raw.get("format") != FORMAT:
        raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
    base = _from_dict(raw["base"]) if raw.get("base") else None
    model = LearnedRanker(
        kind=raw["kind"],
        features=tuple(str(f) for f in raw["features"]),
        mean=tuple(float(v) for v in raw["mean"]),
        scale=tuple(float(v) for v in raw["scale"]),
        coef=tuple(float(v) for v in raw["coef"]),
        intercept=float(raw["intercept"]),
        base=base,
        info=dict(raw.get("info") or {}),
    )
    width = len(model.features)
    if len(model.mean) != width or len(model.scale) != width or any(s <= 0 for s in model.scale):
        raise ValueError("scaling does not match the features")
    if len(model.coef) != width + (1 if base is not None else 0):
        raise ValueError("coefficients do not match the features")
    if base is not None and base.features != model.features:
        raise ValueError("a tenant model's base has other features")
    if model.kind not in ("global", "tenant") or (model.kind == "tenant") != (base is not None):
        raise ValueError(f"kind {model.kind!r} does not match its base")
    return model


def fit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    base: LearnedRanker | None = None,
    c: float = 1.0,
    info: Mapping[str, Any] | None = None,
    features: Sequence[str],
) -> LearnedRanker:
    """Logistic regression on (query, article) rows labelled 1 when the article answers the query.

    With `base`, a tenant residual: the base's logit is an extra input, and the L2 penalty (1/c)
    keeps the other coefficients near zero unless the tenant's rows pull them away.
    """
    from sklearn.linear_model import LogisticRegression  # training only; serving needs numpy alone

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)  # a constant feature (no feedback yet) stays at 0
    z = (x - mean) / scale
    if base is not None:
        z = np.column_stack([base.logits(x), z])
    if len(set(y.tolist())) < 2:
        raise ValueError("training rows need both answering and non-answering articles")
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(z, y, sample_weight=weights)
    return LearnedRanker(
        kind="tenant" if base is not None else "global",
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        base=base,
        info=dict(info or {}),
    )


class Scores(Protocol):
    def probabilities(self, x: np.ndarray) -> np.ndarray: ...


def rerank(
    rows: ArticleRows,
    model: Scores,
    *,
    language: str,
    groups: Mapping[str, str] | None,
) -> list[RankedArticle]:
    """The candidates ordered by the model: score = its probability, confidence = the hand-tuned one.

    Translations are collapsed as in `kb.ranking.rank`: one version per group, in the customer's
    language where it exists, with the best score and confidence of any version.
    """
    if not rows.hand:
        return []
    scores = model.probabilities(rows.features.astype(np.float64))
    ranked = [
        RankedArticle(key=r.key, score=float(s), confidence=r.confidence, chunk=r.chunk, locale=r.locale)
        for r, s in zip(rows.hand, scores, strict=True)
    ]
    if groups is not None:
        members: dict[str, list[RankedArticle]] = {}
        for r in ranked:
            members.setdefault(groups.get(r.key, r.key), []).append(r)
        ranked = [
            RankedArticle(
                key=chosen.key,
                score=max(v.score for v in versions),
                confidence=max(v.confidence for v in versions),
                chunk=chosen.chunk,
                locale=chosen.locale,
            )
            for versions in members.values()
            for chosen in [min(versions, key=lambda v: (language_tier(v.locale, language), -v.score))]
        ]
    ranked.sort(key=lambda r: (-r.score, -r.confidence))
    return ranked
