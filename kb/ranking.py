"""How candidate chunks become the articles a customer is shown: one pure function for the API and
the evaluation, so the leave-one-shop-out figures are those of the code that serves.

Per article: the best chunk's dense similarity (a per-language mix of the encoder parts' cosines),
plus a per-language share of its keyword score, plus the votes of past tickets that the article
resolved, plus small nudges (the channel's own article, the customer's language). What is shown:
every article whose confidence passes the cut-off and whose score sits within a margin of the best,
in the customer's language first, then English, and a third language only after them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ThirdLanguage = Literal["after", "hide"]
# score: best first, any language (the baselines); third_last: best first among the customer's
# language and English, any third language after them; strict: the best top_k reordered as the
# customer's language, then English, then others.
LanguageOrder = Literal["score", "third_last", "strict"]
ConfidenceKind = Literal["dense", "dense+votes"]
VoteKind = Literal["share", "max"]


@dataclass(frozen=True)
class LanguagePolicy:
    """What one query language gets: its encoder mix, keyword share and abstain cut-off."""

    dense_weights: tuple[float, ...]  # one weight per part of the article encoder, summing to 1
    keyword_weight: float
    threshold: float


@dataclass(frozen=True)
class RankingParams:
    policies: Mapping[str, LanguagePolicy]  # by ISO language; "*" for any other
    channel_bonus: float = 0.02
    locale_bonus: float = 0.02
    vote_weight: float = 0.0
    vote_neighbours: int = 5
    vote_kind: VoteKind = "share"
    margin: float = 1.0
    third_language: ThirdLanguage = "after"
    # One version per translation group: the customer's language, else English, else the best.
    collapse_translations: bool = True
    language_order: LanguageOrder = "third_last"
    confidence: ConfidenceKind = "dense"
    coverage_weight: float = 0.0  # score += this * the chunk's query-term coverage
    coverage_confidence: float = 0.0  # confidence += this * the best chunk's query-term coverage
    # An English-only encoder part (MiniLM) scores only English chunks; on the others its weight goes
    # to the multilingual parts: its cosine of an English query to a German text is noise.
    english_parts_on_english_only: bool = False
    extra: Mapping[str, float] = field(default_factory=dict)

    def policy(self, language: str) -> LanguagePolicy:
        return self.policies.get(language) or self.policies["*"]


@dataclass
class Candidates:
    """Everything the ranking reads about one query's candidate chunks and their articles."""

    keys: list[str]  # article ids, one per article
    locales: list[str]  # article locale, per article
    channel_match: np.ndarray  # bool per article: scoped to the query's own channel
    chunk_article: np.ndarray  # int per chunk: index into keys
    part_cosines: np.ndarray  # (encoder parts, chunks): cosine of each part
    keyword: np.ndarray  # BM25 score per chunk (0 = no match)
    votes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # per article, 0..1
    groups: list[str] | None = None  # translation group per article (see translation_group)
    coverage: np.ndarray | None = None  # per chunk: share of the query's terms it contains
    english_only: tuple[bool, ...] = ()  # per encoder part: reads English only


def translation_group(article_id: str, locale: str) -> str:
    """Articles that are one text in several languages share a group: "kb-returns-fr" (locale fr) is
    the French version of "kb-returns". The id convention of the help-centre exports we import; it holds for
    English too: a French-first help centre's "kb-returns-en" is the English version of its French
    "kb-returns", not a second article."""
    suffix = f"-{locale}"
    if article_id.endswith(suffix) and len(article_id) > len(suffix):
        return article_id[: -len(suffix)]
    return article_id


@dataclass(frozen=True)
class RankedArticle:
    key: str
    score: float
    confidence: float
    chunk: int  # index of the article's best chunk in the candidates
    locale: str


def ticket_votes(
    similarities: np.ndarray,
    ticket_article: Sequence[str | None],
    keys: Sequence[str],
    *,
    neighbours: int,
    kind: VoteKind = "share",
) -> np.ndarray:
    """Votes per article from the query's nearest past tickets that an article resolved.

    share: each of the `neighbours` nearest resolved tickets votes with its similarity, normalised
    to sum to 1; max: an article's vote is its most similar resolving ticket's similarity.
    """
    votes = np.zeros(len(keys), dtype=np.float32)
    if not len(similarities) or neighbours <= 0:
        return votes
    position = {key: i for i, key in enumerate(keys)}
    resolved = np.array([a is not None and a in position for a in ticket_article], dtype=bool)
    if not resolved.any():
        return votes
    sims = np.where(resolved, similarities, -np.inf)
    k = min(neighbours, int(resolved.sum()))
    top = np.argpartition(-sims, k - 1)[:k]
    if kind == "max":
        for t in top:
            a = position[ticket_article[int(t)] or ""]
            votes[a] = max(votes[a], float(max(sims[t], 0.0)))
        return votes
    weights = np.clip(sims[top], 0.0, None)
    total = float(weights.sum())
    if total <= 0:
        return votes
    for t, w in zip(top, weights, strict=True):
        votes[position[ticket_article[int(t)] or ""]] += float(w) / total
    return votes


def rank(candidates: Candidates, *, language: str, params: RankingParams) -> list[RankedArticle]:
    """Every candidate article, best first by score (no cut-off, no language order yet)."""
    n_articles = len(candidates.keys)
    if n_articles == 0 or candidates.part_cosines.shape[1] == 0:
        return []
    policy = params.policy(language)
    weights = np.asarray(policy.dense_weights, dtype=np.float32)
    dense = weights @ candidates.part_cosines
    if params.english_parts_on_english_only and any(candidates.english_only):
        dense = _english_parts_on_english_chunks(candidates, weights, dense)
    top_keyword = float(candidates.keyword.max()) if len(candidates.keyword) else 0.0
    keyword = candidates.keyword / top_keyword if top_keyword > 0 else np.zeros_like(dense)
    coverage = (
        candidates.coverage
        if candidates.coverage is not None and len(candidates.coverage) == len(dense)
        else np.zeros_like(dense)
    )
    chunk_score = dense + policy.keyword_weight * keyword + params.coverage_weight * coverage
    order = np.argsort(-chunk_score, kind="stable")
    best_chunk = np.full(n_articles, -1, dtype=np.int64)
    for chunk in order:
        article = candidates.chunk_article[chunk]
        if best_chunk[article] < 0:
            best_chunk[article] = chunk
    article_dense = np.full(n_articles, -1.0, dtype=np.float32)
    np.maximum.at(article_dense, candidates.chunk_article, dense)
    present = best_chunk >= 0
    score = np.where(present, chunk_score[np.maximum(best_chunk, 0)], -np.inf)
    score = score + params.channel_bonus * candidates.channel_match.astype(np.float32)
    locale_match = np.array([loc == language for loc in candidates.locales], dtype=np.float32)
    score = score + params.locale_bonus * locale_match
    votes = candidates.votes if len(candidates.votes) == n_articles else np.zeros(n_articles, np.float32)
    score = score + params.vote_weight * votes
    article_coverage = np.zeros(n_articles, dtype=np.float32)
    np.maximum.at(article_coverage, candidates.chunk_article, coverage.astype(np.float32))
    confidence = np.asarray(article_dense + params.coverage_confidence * article_coverage, dtype=np.float32)
    if params.confidence == "dense+votes":
        confidence = (confidence + params.vote_weight * votes).astype(np.float32)
    ranked = [
        RankedArticle(
            key=candidates.keys[a],
            score=float(score[a]),
            confidence=float(confidence[a]),
            chunk=int(best_chunk[a]),
            locale=candidates.locales[a],
        )
        for a in np.flatnonzero(present)
    ]
    if params.collapse_translations and candidates.groups is not None:
        ranked = _collapse(ranked, [candidates.groups[a] for a in np.flatnonzero(present)], language)
    ranked.sort(key=lambda r: (-r.score, -r.confidence))
    return ranked


def _english_parts_on_english_chunks(
    candidates: Candidates, weights: np.ndarray, dense: np.ndarray
) -> np.ndarray:
    english_only = np.asarray(candidates.english_only, dtype=bool)
    if len(english_only) != candidates.part_cosines.shape[0] or len(weights) != len(english_only):
        return dense
    multilingual = np.where(english_only, 0.0, weights).astype(np.float32)
    if multilingual.sum() <= 0 or not (english_only & (weights > 0)).any():
        return dense
    multilingual *= weights.sum() / multilingual.sum()
    chunk_is_english = np.array([candidates.locales[a] == "en" for a in candidates.chunk_article], dtype=bool)
    return np.where(chunk_is_english, dense, multilingual @ candidates.part_cosines).astype(np.float32)


def _collapse(ranked: list[RankedArticle], groups: list[str], language: str) -> list[RankedArticle]:
    """A translation group is one answer: shown once, in the customer's language where it exists,
    with the best score and confidence of any of its versions."""
    members: dict[str, list[RankedArticle]] = {}
    for article, group in zip(ranked, groups, strict=True):
        members.setdefault(group, []).append(article)
    out = []
    for versions in members.values():
        chosen = min(versions, key=lambda r: (language_tier(r.locale, language), -r.score))
        out.append(
            RankedArticle(
                key=chosen.key,
                score=max(r.score for r in versions),
                confidence=max(r.confidence for r in versions),
                chunk=chosen.chunk,
                locale=chosen.locale,
            )
        )
    return out


def language_tier(locale: str, language: str) -> int:
    """0: the customer's language, 1: English (the originals), 2: any other language."""
    if locale == language:
        return 0
    return 1 if locale == "en" else 2


def shown(
    ranked: Sequence[RankedArticle],
    *,
    language: str,
    params: RankingParams,
    threshold: float | None,
    top_k: int,
    fits: float | None = None,
) -> list[RankedArticle]:
    """What the customer sees: past the cut-off, within the margin of the best, language-ordered.

    `threshold` None applies no cut-off (the ranking metrics of the evaluation), only the margin.
    """
    passing = [r for r in ranked if threshold is None or r.confidence >= threshold]
    if not passing:
        return []
    best = passing[0].score
    close = [r for r in passing if r.score >= best - params.margin]
    if params.language_order == "score":
        return close[:top_k]
    # A third language goes after the customer's language and English only where those fit: an
    # article under the language's cut-off is no answer, and putting it first because of its language
    # buried the only answer of shops whose help centre is written in Italian or Spanish (an English
    # query ranked four unrelated English articles ahead of it). With no cut-off applied (the ranking
    # metrics), "fits" is `fits`, else the language's shipped cut-off.
    if fits is None:
        fits = threshold if threshold is not None else params.policy(language).threshold

    def preferred(r: RankedArticle) -> bool:
        return language_tier(r.locale, language) < 2 and r.confidence >= fits

    if params.third_language == "hide" and any(preferred(r) for r in close):
        close = [r for r in close if language_tier(r.locale, language) < 2]
    if params.language_order == "strict":
        # Stable: within a tier the score order stays.
        return sorted(close[:top_k], key=lambda r: language_tier(r.locale, language) if preferred(r) else 3)
    return sorted(close, key=lambda r: not preferred(r))[:top_k]
