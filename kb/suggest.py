"""Article suggestions: language-aware, channel-aware, past tickets voting, abstaining per result.

A query's language is detected (the page's locale when the detector is unsure); the article index
holds several encoders side by side and the query mixes them with that language's weights; the
keyword side reads the query with that language's stemmer; past tickets the seller resolved with an
article vote for it. `kb.ranking` turns these scores into what is shown, the same function the
leave-one-shop-out evaluation tunes (eval/loso.py, figures in eval/results/).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from cachetools import TTLCache
from markdown_it import MarkdownIt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.calibration import calibrated_threshold
from core.schemas import channels_served, reason_tags, scoped_to_channel
from core.settings import Settings, get_settings
from embeddings.collection import Collection, IndexedItem, Pool, SearchFilter, SearchMode, build_collection
from embeddings.encoder import ENGLISH_ONLY_ENCODERS, RoutedEncoder
from embeddings.keyword import STOPWORDS, KeywordIndex, QueryTerms, analyze, correct_text
from embeddings.language import detect_language
from history.models import Ticket
from indexing.engine import SearchEngine
from indexing.pgsearch import PgCollection
from kb.abstain import AbstainModel, AbstainModelError, gate_features, ticket_terms
from kb.abstain import loads as load_abstain
from kb.learned import NO_PRIORS, ArticlePriors, ArticleRows, LearnedRanker, Scores, article_rows, rerank
from kb.ranking import (
    Candidates,
    LanguagePolicy,
    RankedArticle,
    RankingParams,
    rank,
    shown,
    ticket_votes,
    translation_group,
)
from kb.schemas import SuggestionRead, SuggestResult
from kb.service import COLLECTION
from kb.tuning import (
    HOLDOUT,
    Example,
    SearchOutcome,
    ServingRanker,
    TuneReport,
    encoder_parts,
    serving_ranker,
    tune_tenant,
)

log = logging.getLogger(__name__)

ABSTAIN_MODEL_PATH = Path(__file__).with_name("abstain_global.json")
SNIPPET_CHARS = 220
POOL = 60
TICKET_NEIGHBOURS_POOL = 50
_WORD = re.compile(r"(?u)\w+")


def params_from_settings(settings: Settings) -> RankingParams:
    """The shipped ranking (core/settings.py defaults, chosen leave-one-shop-out)."""
    return RankingParams(
        policies={
            language: LanguagePolicy(
                dense_weights=tuple(p.dense_weights), keyword_weight=p.keyword_weight, threshold=p.threshold
            )
            for language, p in settings.article_language_policies.items()
        },
        channel_bonus=settings.suggest_channel_bonus,
        locale_bonus=settings.suggest_locale_bonus,
        vote_weight=settings.ticket_vote_weight,
        vote_neighbours=settings.ticket_vote_neighbours,
        vote_kind=settings.ticket_vote_kind,
        margin=settings.suggest_margin,
        third_language=settings.suggest_third_language,
        confidence=settings.suggest_confidence,
        coverage_weight=settings.suggest_coverage_weight,
        coverage_confidence=settings.suggest_coverage_confidence,
        english_parts_on_english_only=settings.suggest_english_parts_on_english_only,
    )


def article_cutoff(session: Session, engine: SearchEngine, *, tenant_id: str) -> float | None:
    """The one cut-off every caller passes to `suggest` (widget, contact form, drafts, reports, CLI):
    the tenant's own calibration on its labelled queries, or None for the shipped per-language ones."""
    value = calibrated_threshold(
        session,
        tenant_id=tenant_id,
        collection=COLLECTION,
        encoder=engine.encoder_for(COLLECTION).name,
        default=float("nan"),
    )
    return None if np.isnan(value) else value


@lru_cache(maxsize=8)
def abstain_model(parts: tuple[str, ...]) -> AbstainModel | None:
    """The shipped abstention model (kb/abstain.py) when it was fitted for these encoder parts; an index
    with other parts (a test encoder) abstains on the per-language cut-offs alone."""
    if not ABSTAIN_MODEL_PATH.exists():
        return None
    try:
        return load_abstain(ABSTAIN_MODEL_PATH.read_text(encoding="utf-8"), parts=parts)
    except AbstainModelError as exc:
        # Other parts (a test encoder) are expected; anything else is a broken shipped file.
        if not (isinstance(exc.details, dict) and "served" in exc.details):
            log.warning("%s: abstaining on the per-language cut-offs alone", exc.message)
        return None


class _TicketTerms:
    """Per tenant, the stemmed terms of its past tickets, which the abstention model reads (a query word
    that neither the help centre nor any ticket contains). Grown as tickets arrive; rebuilt when tickets
    were removed (an erasure must not leave its words behind). The fingerprint is read at most every
    CHECK_SECONDS per tenant, so a search usually reads no database for it."""

    CHECK_SECONDS = 30.0

    def __init__(self) -> None:
        self._terms: dict[tuple[str, str], tuple[int, int, frozenset[str]]] = {}
        self._fresh: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=4096, ttl=self.CHECK_SECONDS)
        self._lock = threading.Lock()

    def get(self, session: Session, tenant_id: str) -> frozenset[str]:
        key = (str(session.get_bind().engine.url), tenant_id)
        with self._lock:
            cached = self._terms.get(key)
            if cached is not None and key in self._fresh:
                return cached[2]
        count, newest = session.execute(
            select(func.count(Ticket.id), func.max(Ticket.id)).where(Ticket.tenant_id == tenant_id)
        ).one()
        count, newest = int(count or 0), int(newest or 0)
        if cached is not None and (cached[0], cached[1]) == (count, newest):
            terms = cached[2]
        else:
            added = (
                list(
                    session.scalars(
                        select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.id > cached[1])
                    )
                )
                if cached is not None
                else []
            )
            if cached is not None and len(added) == count - cached[0]:
                terms = cached[2] | ticket_terms(added)  # only new tickets: none was removed
            else:
                terms = ticket_terms(session.scalars(select(Ticket).where(Ticket.tenant_id == tenant_id)))
        with self._lock:
            self._terms[key] = (count, newest, terms)
            self._fresh[key] = True
        return terms


_ticket_terms = _TicketTerms()


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


@lru_cache(maxsize=4096)
def plain_text(markdown: str) -> str:
    """Markdown as the words a reader sees: no #, **, `, table pipes or link targets."""
    pieces: list[str] = []
    for token in _markdown().parse(markdown):
        if token.type == "inline" and token.children is not None:
            words = [
                " " if c.type in ("softbreak", "hardbreak") else c.content
                for c in token.children
                if c.type in ("text", "code_inline", "softbreak", "hardbreak")
            ]
            pieces.append("".join(words) if words else token.content)
        elif token.type in ("code_block", "fence"):
            pieces.append(token.content)
    return re.sub(r"\s+", " ", " ".join(pieces)).strip()


def snippet(
    text: str, query_terms: set[str], *, language: str, chars: int = SNIPPET_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """A window of the chunk around the first matched query word, with whole-word match offsets.

    A word is matched when its analysis (stemmed in the article's language) is one of the query's
    terms: "deliveries" matches "delivery", "delivery" never matches "very".
    """
    body = text.split("\n", 1)[1] if "\n" in text else text
    # A chunk's heading line repeats the section title: keep it, it reads as a sentence.
    body = plain_text(body)

    def matches(candidate: str) -> list[tuple[int, int]]:
        spans = []
        for m in _WORD.finditer(candidate):
            if m.group(0).lower() in STOPWORDS:  # "can", "how", "wo": never a highlight in any language
                continue
            terms = analyze(m.group(0), language)
            if terms and terms[0] in query_terms:
                spans.append((m.start(), m.end()))
        return spans

    first = matches(body)
    start = 0
    if first:
        start = max(0, first[0][0] - 60)
        if start:
            space = body.find(" ", start)
            start = space + 1 if 0 <= space < first[0][0] else start
    cut = body[start : start + chars]
    if start + chars < len(body):
        last = cut.rfind(" ")
        cut = (cut[:last] if last > 80 else cut) + "…"
    if start:
        cut = "…" + cut
    return cut, matches(cut)


def _candidates(
    pool: Pool,
    *,
    encoder: RoutedEncoder | None,
    part_vectors: list[np.ndarray] | None,
    query_vector: np.ndarray,
    channel: str | None,
) -> tuple[Candidates, list[int]]:
    """The pool's chunks grouped to articles, with each encoder part's cosine (exact, from the stored
    vectors) or the one cosine of a single-encoder index."""
    keys: list[str] = []
    index: dict[str, int] = {}
    owner: list[int] = []
    locales: list[str] = []
    channel_match: list[bool] = []
    for item in pool.items:
        if item.key not in index:
            index[item.key] = len(keys)
            keys.append(item.key)
            locales.append(item.locale)
            channel_match.append(scoped_to_channel(item.channels, channel))
        owner.append(index[item.key])
    if encoder is not None and part_vectors is not None:
        cosines = encoder.part_cosines(pool.vectors, part_vectors)
    else:
        cosines = (pool.vectors @ query_vector.reshape(-1)).reshape(1, -1).astype(np.float32)
    return (
        Candidates(
            keys=keys,
            locales=locales,
            channel_match=np.asarray(channel_match, dtype=bool),
            chunk_article=np.asarray(owner, dtype=np.int64),
            part_cosines=cosines,
            keyword=pool.keyword,
            coverage=pool.coverage,
            groups=[translation_group(k, loc) for k, loc in zip(keys, locales, strict=True)],
            english_only=tuple(p.name in ENGLISH_ONLY_ENCODERS for p in encoder.parts) if encoder else (),
        ),
        owner,
    )


class _ReplicaCopies:
    """This replica's in-memory copies of tenants' help-centre collections kept in PostgreSQL.

    The article ranking scores every candidate with its stored vectors and BM25 over the tenant's
    whole help centre (per-language stemming, typo correction, query-term coverage), which needs the
    collection in memory. With the FAISS/NumPy backends the engine's collection is that; with
    pgvector, the KB (hundreds to a few thousand chunks, unlike the tickets) is copied from its table
    and copied again when the table's fingerprint changes, so every replica still serves each
    committed article change at once (one small query per search checks the fingerprint).
    """

    def __init__(self) -> None:
        self._copies: dict[tuple[int, str], tuple[tuple[int, int, int], Collection]] = {}
        self._lock = threading.Lock()

    def get(self, engine: SearchEngine, tenant_id: str, source: PgCollection) -> Collection:
        key = (id(engine), tenant_id)
        fingerprint = source.fingerprint()
        with self._lock:
            cached = self._copies.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        items = source.matching(SearchFilter())
        vectors = source.vectors([item.item_id for item in items])
        copy = build_collection(
            encoder=source.encoder,
            items=items,
            vectors=vectors,
            kind="flat",
            rrf_k=engine.rrf_k,
            bm25_weight=engine.bm25_weight,
        )
        with self._lock:
            self._copies[key] = (fingerprint, copy)
        return copy


_replica_copies = _ReplicaCopies()


def article_collection(engine: SearchEngine, tenant_id: str) -> Collection:
    """The tenant's help-centre collection in this process's memory (see _ReplicaCopies)."""
    found = engine.collection(tenant_id, COLLECTION)
    if isinstance(found, Collection):
        return found
    if isinstance(found, PgCollection):
        return _replica_copies.get(engine, tenant_id, found)
    raise TypeError(f"no in-memory view of a {type(found).__name__}")


def _votes(
    engine: SearchEngine,
    tenant_id: str,
    query: str,
    keys: list[str],
    params: RankingParams,
    *,
    exclude: str | None = None,
    before: float | None = None,
) -> np.ndarray:
    """Past tickets near the message vote for the articles that resolved them (a past ticket replayed
    as a query: never itself, only tickets older than it)."""
    if params.vote_weight <= 0:
        return np.zeros(len(keys), dtype=np.float32)
    tickets = engine.collection(tenant_id, "tickets")
    if not len(tickets):
        return np.zeros(len(keys), dtype=np.float32)
    vector = engine.encode_query(query, "tickets")
    hits = tickets.search(
        query, vector, top_k=TICKET_NEIGHBOURS_POOL, mode="dense", candidates=TICKET_NEIGHBOURS_POOL
    )
    hits = [
        h
        for h in hits
        if (exclude is None or h.item.key != exclude) and (before is None or h.item.timestamp < before)
    ]
    resolved = [(h.dense_score or 0.0, h.item.extra.get("resolved_by_article")) for h in hits]
    resolved = [(s, a) for s, a in resolved if a]
    if not resolved:
        return np.zeros(len(keys), dtype=np.float32)
    return ticket_votes(
        np.asarray([s for s, _ in resolved], dtype=np.float32),
        [a for _, a in resolved],
        keys,
        neighbours=params.vote_neighbours,
        kind=params.vote_kind,
    )


@dataclass
class ArticleSearch:
    """One query through the article ranking, before the database is read (shared with eval)."""

    language: str
    cutoff: float  # applied: the tenant's own, else the language's shipped one moved by the abstention model
    language_cutoff: float  # the language's shipped cut-off
    ranked: list[RankedArticle]  # every candidate article, best first
    visible: list[RankedArticle]  # what is shown: past the cut-off, within the margin, language-ordered
    pool: Pool
    owner: list[int]
    candidates: Candidates
    terms: list[str]
    dense_query: str
    rows: ArticleRows | None = None  # the learned ranker's features, when asked for
    cutoff_shift: float = 0.0  # how far the abstention model moved the language's cut-off


@dataclass(frozen=True)
class Abstain:
    """What `search_articles` needs to move the language's cut-off by the abstention model."""

    model: AbstainModel
    ticket_vocabulary: frozenset[str] = frozenset()  # the tenant's past tickets' terms


# Candidates the learned ranker re-orders: the hand ranking's best 20 (the depth it was trained at).
LEARNED_DEPTH = 20


@dataclass(frozen=True)
class Learned:
    """What `search_articles` needs to rank with a learned model, or only to compute its features."""

    model: Scores | None
    priors: ArticlePriors = NO_PRIORS


def _for_mode(params: RankingParams, mode: SearchMode, parts: int) -> RankingParams:
    if mode == "bm25":
        only = LanguagePolicy(dense_weights=(0.0,) * parts, keyword_weight=1.0, threshold=-1.0)
        return replace(params, policies={"*": only}, vote_weight=0.0)
    if mode == "dense":
        policies = {k: replace(p, keyword_weight=0.0) for k, p in params.policies.items()}
        return replace(params, policies=policies, vote_weight=0.0, channel_bonus=0.0, locale_bonus=0.0)
    return params


def _read_query(keyword_index: KeywordIndex, query: str, locale: str | None) -> tuple[str, QueryTerms, str]:
    """The query's language, its keyword terms and the text the encoders read (typos corrected)."""
    language = detect_language(query, locale=locale).language
    terms = keyword_index.query_terms(query, [language, "en"])
    return language, terms, correct_text(query, terms.corrections)


def prepare_article_queries(
    engine: SearchEngine, *, tenant_id: str, queries: Sequence[str], locale: str | None
) -> None:
    """Encodes the texts that searches of these queries will encode, in one pass per model.

    A draft searches once per question; each search reads its query with typos corrected, and the
    draft reads the raw query again for its passages. Encoded one at a time, those were 2-5 passes of
    each model per draft, most of a draft's time (e5 alone 50-80 ms a pass on 2 busy cores)."""
    keyword_index = article_collection(engine, tenant_id).keyword_index()
    texts: list[str] = []
    for query in queries:
        texts += [query, _read_query(keyword_index, query, locale)[2]]
    engine.prepare_queries(texts, COLLECTION)


def search_articles(
    collection: Collection,
    *,
    query: str,
    channel: str | None,
    locale: str | None,
    params: RankingParams,
    threshold: float | None = None,
    top_k: int = 5,
    mode: SearchMode = "hybrid",
    tags: tuple[str, ...] | None = None,
    votes: Callable[[list[str]], np.ndarray] | None = None,
    extra_equals: tuple[tuple[str, object], ...] = (),
    learned: Learned | None = None,
    cut: bool = True,
    abstain: Abstain | None = None,
) -> ArticleSearch:
    """Detects the language, mixes the encoders for it, pools dense and keyword candidates, ranks.

    With `learned`, the candidates' features are computed and, when it holds a model and the mode is
    hybrid, the model orders the best LEARNED_DEPTH articles (each still passing the cut-off on its
    hand-tuned confidence). With `abstain` and no `threshold` of the tenant's own, the language's
    cut-off moves by the abstention model's reading of the query (kb/abstain.py)."""
    keyword_index: KeywordIndex = collection.keyword_index()
    language, terms, dense_query = _read_query(keyword_index, query, locale)
    encoder = collection.encoder if isinstance(collection.encoder, RoutedEncoder) else None
    parts = len(encoder.parts) if encoder is not None else 1
    if any(len(p.dense_weights) != parts for p in params.policies.values()):
        # An index with other encoder parts than the shipped mix (a test encoder, an older setting):
        # its own default mix, the same keyword shares and cut-offs.
        fallback = encoder.default_weights if encoder is not None else (1.0,)
        policies = {k: replace(p, dense_weights=tuple(fallback)) for k, p in params.policies.items()}
        params = replace(params, policies=policies)
    params = _for_mode(params, mode, parts)
    policy = params.policy(language)
    part_vectors = None
    if encoder is not None:
        part_vectors = encoder.part_vectors([dense_query])
        query_vector = encoder.combine(
            part_vectors, policy.dense_weights if mode != "bm25" else encoder.default_weights
        )[0]
    else:
        query_vector = collection.encoder.encode([dense_query], kind="query")[0]
    pool = collection.pool(
        query_vector,
        terms.tokens if mode != "dense" else [],
        flt=SearchFilter(channels=channels_served(channel) if channel else None, extra_equals=extra_equals),
        words=terms.words,
        size=POOL,
    )
    candidates, owner = _candidates(
        pool, encoder=encoder, part_vectors=part_vectors, query_vector=query_vector, channel=channel
    )
    if votes is not None and params.vote_weight > 0 and candidates.keys:
        candidates.votes = votes(candidates.keys)
    ranked = rank(candidates, language=language, params=params)
    shift = 0.0
    if abstain is not None and threshold is None and mode == "hybrid" and ranked:
        evidence = gate_features(
            candidates,
            ranked,
            language=language,
            cutoff=policy.threshold,
            dense_weights=policy.dense_weights,
            query=query,
            words=terms.words,
            kb_vocabulary=keyword_index.vocabulary,
            ticket_vocabulary=abstain.ticket_vocabulary,
        )
        shift = abstain.model.cutoff_shift(evidence)
    rows = None
    if learned is not None:
        rows = article_rows(
            candidates, language=language, params=params, priors=learned.priors, limit=LEARNED_DEPTH
        )
        if learned.model is not None and mode == "hybrid" and rows.hand:
            groups = (
                dict(zip(candidates.keys, candidates.groups, strict=True))
                if params.collapse_translations and candidates.groups is not None
                else None
            )
            ranked = rerank(rows, learned.model, language=language, groups=groups)
            # Probabilities are on their own scale: the hand-tuned score margin does not apply.
            params = replace(params, margin=1.0)
    if tags:
        # A topic chosen in the contact form narrows the list, but never empties it on its own.
        labels = {item.key: reason_tags(item.labels) for item in pool.items}
        on_topic = [r for r in ranked if labels.get(r.key, set()) & set(tags)]
        ranked = on_topic + [r for r in ranked if r not in on_topic]
    cutoff = threshold if threshold is not None else policy.threshold + shift
    # cut=False (the evaluation's ranking metrics): nothing is dropped, but the order is the widget's.
    visible = shown(
        ranked, language=language, params=params, threshold=cutoff if cut else None, top_k=top_k, fits=cutoff
    )
    return ArticleSearch(
        language=language,
        cutoff=cutoff,
        language_cutoff=policy.threshold,
        ranked=ranked,
        visible=visible,
        pool=pool,
        owner=owner,
        candidates=candidates,
        terms=terms.tokens,
        dense_query=dense_query,
        rows=rows,
        cutoff_shift=shift,
    )


def suggest(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    query: str,
    channel: str | None = None,
    locale: str | None = None,
    top_k: int = 5,
    threshold: float | None = None,
    mode: SearchMode = "hybrid",
    tags: tuple[str, ...] | None = None,
    params: RankingParams | None = None,
    learned: bool = True,
    snippets: bool = True,
) -> SuggestResult:
    """Ranked articles for a customer's words; abstains (empty list) when none passes the cut-off.

    `threshold` None applies the shipped cut-off of the query's language, moved by the shipped
    abstention model (kb/abstain.py); a number (a tenant's own calibration, `article_cutoff`) applies to
    every language as it is. `learned` ranks with the tenant's
    learned model, else the shipped one, else the hand-tuned ranking (kb/tuning.py). `snippets` False
    leaves the highlighted snippets out: a draft picks its own passage and would pay for them per question.
    """
    started = time.perf_counter()
    settings = get_settings()
    params = params or params_from_settings(settings)
    collection = article_collection(engine, tenant_id)
    serving = ServingRanker(model=None, source="hand")
    if learned and settings.suggest_learned_ranker and mode == "hybrid":
        serving = serving_ranker(session, tenant_id=tenant_id, parts=encoder_parts(collection))
    gate = None
    if settings.suggest_abstention_model and threshold is None and mode == "hybrid":
        model = abstain_model(encoder_parts(collection))
        if model is not None:
            gate = Abstain(model=model, ticket_vocabulary=_ticket_terms.get(session, tenant_id))
    found = search_articles(
        collection,
        query=query,
        channel=channel,
        locale=locale,
        params=params,
        threshold=threshold,
        top_k=top_k,
        mode=mode,
        tags=tags,
        votes=lambda keys: _votes(engine, tenant_id, query, keys, params),
        learned=Learned(model=serving.model, priors=serving.priors) if serving.model is not None else None,
        abstain=gate,
    )
    suggestions: list[SuggestionRead] = []
    for r in found.visible:
        chunk = _shown_chunk(found, r)
        if chunk is None:
            continue
        text, spans = "", list[tuple[int, int]]()  # the widget's snippet, left out for drafts
        if snippets:
            wanted = set(found.terms) | set(analyze(found.dense_query, chunk.locale))
            text, spans = snippet(chunk.text, wanted, language=chunk.locale)
        url = chunk.extra.get("url")
        suggestions.append(
            SuggestionRead(
                id=r.key,
                title=str(chunk.extra.get("title", "")),
                url=str(url) if url else None,
                snippet=text,
                highlights=spans,
                score=round(r.score, 6),
                confidence=round(r.confidence, 4),
                locale=chunk.locale,
                channels=list(chunk.channels),
                tags=list(chunk.labels),
            )
        )
    return SuggestResult(
        query=query,
        abstained=not suggestions,
        threshold=found.cutoff,
        language=found.language,
        suggestions=suggestions,
        ranker=serving.source if serving.version is None else f"{serving.source}:v{serving.version}",
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def tune_ranker(
    session: Session, engine: SearchEngine, *, tenant_id: str, holdout: float = HOLDOUT
) -> TuneReport:
    """`deflect tune` and the `retrain_ranker` job: trains, replays and stores the tenant's ranker.

    Each example runs through the search the widget runs (same pool, votes, features); a past ticket
    replayed as a query gets votes only from tickets older than itself."""
    engine.catch_up(tenant_id, COLLECTION)
    engine.catch_up(tenant_id, "tickets")
    params = params_from_settings(get_settings())
    collection = article_collection(engine, tenant_id)

    def search(example: Example, model: LearnedRanker | None, priors: ArticlePriors) -> SearchOutcome:
        found = search_articles(
            collection,
            query=example.query,
            channel=example.channel,
            locale=example.locale,
            params=params,
            top_k=10,
            votes=lambda keys: _votes(
                engine,
                tenant_id,
                example.query,
                keys,
                params,
                exclude=example.ticket_key,
                before=example.at.timestamp(),
            ),
            learned=Learned(model=model, priors=priors),
        )
        rows = found.rows
        keys = [r.key for r in rows.hand] if rows is not None else []
        groups = dict(
            zip(found.candidates.keys, found.candidates.groups or found.candidates.keys, strict=True)
        )
        return SearchOutcome(
            ranked=[r.key for r in found.ranked],
            groups=groups,
            keys=keys,
            features=rows.features if rows is not None else np.zeros((0, 0), dtype=np.float32),
        )

    return tune_tenant(
        session, tenant_id=tenant_id, parts=encoder_parts(collection), search=search, holdout=holdout
    )


def _shown_chunk(found: ArticleSearch, ranked: RankedArticle) -> IndexedItem | None:
    """The shown article's own best chunk (a translation group may show another version than the one
    that scored: then its first pooled chunk). Its metadata (title, URL, locale, channels, tags) comes
    from the index, so the steady state reads no database."""
    items = found.pool.items
    chunk = items[ranked.chunk] if 0 <= ranked.chunk < len(items) else None
    if chunk is not None and chunk.key == ranked.key:
        return chunk
    position = found.candidates.keys.index(ranked.key)
    for row, article in enumerate(found.owner):
        if article == position:
            return items[row]
    return None
