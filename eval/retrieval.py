"""`deflect eval retrieval`: articles and/or past tickets indexed in memory, three systems in one run.

Systems share one index built with the search engine's own `Collection`, so the numbers are
those of the code the API runs:
- hybrid: our search. Articles: fused dense+BM25 chunk search grouped to articles by
  `kb.suggest.rank_articles` (channel/locale boosts included). Labels: dense and keyword
  neighbours vote for labels, plus a linear head trained on the indexed items (history/labels.py).
- dense: nearest neighbours by cosine only (labels: dense votes, no head).
- bm25: keyword search only (bm25s), the baseline.
Ranking metrics are over in-scope queries; abstention is scored on the whole set at a threshold
calibrated per system on a separate file (never on the file being scored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from core.settings import get_settings
from embeddings.collection import Collection, Hit, IndexedItem
from embeddings.encoder import Encoder
from eval import metrics as m
from eval.datasets import Query, Ticket
from history.labels import KEYWORD_NEIGHBOURS, LabelHead, rank_labels
from indexing.engine import SearchEngine
from kb.chunking import chunk_article
from kb.schemas import ArticleCreate
from kb.suggest import Abstain, Learned, abstain_model, params_from_settings, search_articles
from kb.tuning import encoder_parts, global_model

Mode = Literal["hybrid", "dense", "bm25"]
SYSTEMS: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
RECALL_KS = (1, 3, 5, 10)
CALIBRATION_K = 3
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SystemSpec:
    """One column of the comparison: a retrieval mode, optionally without the label head."""

    name: str
    mode: Mode
    label_head: bool = True
    learned: bool = False  # articles ordered by the shipped learned ranker (kb/ranker_global.json)


DEFAULT_SYSTEMS = (
    SystemSpec("hybrid", "hybrid"),
    SystemSpec("dense", "dense", label_head=False),
    SystemSpec("bm25", "bm25", label_head=False),
)


@dataclass
class Corpus:
    collection: Collection
    head: LabelHead | None
    has_articles: bool


@dataclass
class QueryOutcome:
    query: Query
    ranked: list[str]  # article ids, or distinct labels for label queries
    confidence: float
    # The cut-off of the query's language, moved by the abstention model: abstention as the widget abstains.
    cutoff: float | None = None


@dataclass
class SystemResult:
    spec: SystemSpec
    outcomes: list[QueryOutcome]
    threshold: float | None
    metrics: dict[str, Any] = field(default_factory=dict)


def build_corpus(
    engine: SearchEngine,
    *,
    articles: Sequence[ArticleCreate] = (),
    tickets: Sequence[Ticket] = (),
    label_head: bool = True,
    progress: Progress | None = None,
) -> Corpus:
    """Chunks articles like the importer does and indexes them and the tickets in one in-memory collection."""
    items: list[IndexedItem] = []
    for article in articles:
        for chunk in chunk_article(article.title, article.body):
            items.append(
                IndexedItem(
                    item_id=len(items) + 1,
                    key=article.id,
                    text=chunk.text,
                    channels=tuple(article.channels),
                    locale=article.locale,
                    labels=tuple(article.tags),
                    extra={"kind": "article"},
                )
            )
    for ticket in tickets:
        # A past ticket informs every channel: the same question is asked on Amazon and by e-mail.
        items.append(
            IndexedItem(
                item_id=len(items) + 1,
                key=ticket.id,
                text=ticket.text,
                locale=ticket.locale,
                labels=ticket.tags,
                extra={"kind": "ticket"},
            )
        )
    if not items:
        raise ValueError("nothing to index: give articles and/or tickets")
    # The articles collection may have its own (multilingual-weighted) encoder, as in the API.
    collection = engine.new_collection("articles" if articles and not tickets else "tickets")
    vectors = encode(
        collection.encoder,
        [i.text for i in items],
        kind="passage",
        label="encoding corpus",
        progress=progress,
    )
    collection.apply(items, vectors, [])
    head = None
    labelled = [(row, item.labels[0]) for row, item in enumerate(items) if item.labels]
    if label_head and len({label for _, label in labelled}) >= 2:
        rows = [row for row, _ in labelled]
        head = LabelHead(vectors[rows], [label for _, label in labelled])
    return Corpus(collection=collection, head=head, has_articles=bool(articles))


def encode(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    kind: Literal["query", "passage"],
    label: str,
    progress: Progress | None = None,
    batch: int = 512,
) -> np.ndarray:
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for start in range(0, len(texts), batch):
        out[start : start + batch] = encoder.encode(texts[start : start + batch], kind=kind)
        if progress:
            progress(label, min(start + batch, len(texts)), len(texts))
    return out


def _article_outcome(
    collection: Collection, query: Query, vector: np.ndarray, mode: Mode, learned: bool = False
) -> QueryOutcome:
    """The service's own article search (kb.suggest.search_articles) without the cut-off: the ranking
    within the margin, and the confidence the cut-off is compared with (the language's, moved by the
    abstention model as the service moves it; no past tickets are indexed here, so only the help
    centre's words count as known)."""
    settings = get_settings()
    params = params_from_settings(settings)
    model = global_model(encoder_parts(collection)) if learned else None
    gate = abstain_model(encoder_parts(collection)) if settings.suggest_abstention_model else None
    found = search_articles(
        collection,
        query=query.text,
        channel=query.channel,
        locale=query.locale,
        params=params,
        top_k=10,
        cut=False,
        mode=mode,
        extra_equals=(("kind", "article"),),
        learned=Learned(model=model) if model is not None else None,
        abstain=Abstain(model=gate) if gate is not None else None,
    )
    if mode == "bm25":
        confidence = float(found.pool.keyword.max()) if len(found.pool.keyword) else 0.0
    else:
        # What kb.suggest abstains on: no candidate's confidence reaches the cut-off.
        confidence = max((r.confidence for r in found.ranked), default=0.0)
    return QueryOutcome(
        query=query,
        ranked=[r.key for r in found.visible],
        confidence=float(confidence),
        cutoff=found.cutoff if mode != "bm25" else None,
    )


def _label_outcome(
    corpus: Corpus, query: Query, vector: np.ndarray, spec: SystemSpec, head_row: dict[str, float] | None
) -> QueryOutcome:
    collection = corpus.collection
    dense_hits: list[Hit] | None = None
    keyword_hits: list[Hit] | None = None
    if spec.mode in ("hybrid", "dense"):
        dense_hits = collection.search(query.text, vector, top_k=40, mode="dense", candidates=40)
    if spec.mode in ("hybrid", "bm25"):
        keyword_hits = collection.search(
            query.text, None, top_k=KEYWORD_NEIGHBOURS, mode="bm25", candidates=KEYWORD_NEIGHBOURS
        )
    ranking = rank_labels(
        dense_hits, keyword_hits, head_row if spec.label_head and spec.mode != "bm25" else None
    )
    return QueryOutcome(query=query, ranked=ranking.labels, confidence=ranking.confidence)


def run_system(
    corpus: Corpus,
    queries: Sequence[Query],
    vectors: np.ndarray,
    spec: SystemSpec,
    head_rows: list[dict[str, float]] | None,
    progress: Progress | None = None,
) -> list[QueryOutcome]:
    """One outcome per query. Queries with `relevant` are scored on articles, the rest on labels."""
    outcomes = []
    for i, query in enumerate(queries):
        if query.relevant or (corpus.has_articles and not query.label):
            outcomes.append(_article_outcome(corpus.collection, query, vectors[i], spec.mode, spec.learned))
        else:
            outcomes.append(
                _label_outcome(corpus, query, vectors[i], spec, head_rows[i] if head_rows else None)
            )
        if progress and (i % 200 == 199 or i == len(queries) - 1):
            progress(f"{spec.name}", i + 1, len(queries))
    return outcomes


def head_probabilities(corpus: Corpus, vectors: np.ndarray) -> list[dict[str, float]] | None:
    if corpus.head is None or not len(vectors):
        return None
    probabilities = corpus.head.predict(vectors)
    classes = corpus.head.classes
    # Only the top few matter for ranking and confidence; keeping all 150 per query wastes memory.
    top = np.argsort(-probabilities, axis=1)[:, :10]
    return [{classes[j]: float(probabilities[r, j]) for j in top[r]} for r in range(len(vectors))]


def gold(query: Query) -> set[str]:
    return set(query.relevant) if query.relevant else ({query.label} if query.label else set())


def hit_at(outcome: QueryOutcome, k: int) -> bool:
    wanted = gold(outcome.query)
    return bool(wanted) and any(x in wanted for x in outcome.ranked[:k])


def calibrate_threshold(
    outcomes: Sequence[QueryOutcome],
    *,
    min_in_scope: float = 0.95,
    constraint: str = "recall",
    k: int = CALIBRATION_K,
) -> m.ThresholdPoint:
    """Default objective: in-scope recall@3 after abstention ≥ 0.95, most out-of-scope abstained."""
    return m.best_threshold(
        [o.confidence for o in outcomes],
        [o.query.out_of_scope for o in outcomes],
        [hit_at(o, k) for o in outcomes],
        min_in_scope=min_in_scope,
        constraint=constraint,
    )


def score(
    outcomes: Sequence[QueryOutcome], threshold: float | None, *, with_ci: bool = True
) -> dict[str, Any]:
    """Every metric of one system on one set (or slice)."""
    in_scope = [o for o in outcomes if not o.query.out_of_scope]
    oos = [o for o in outcomes if o.query.out_of_scope]
    out: dict[str, Any] = {"queries": len(outcomes), "in_scope": len(in_scope), "out_of_scope": len(oos)}
    per_query: dict[str, list[float]] = {}
    if in_scope:
        for k in RECALL_KS:
            per_query[f"recall@{k}"] = [m.recall_at_k(o.ranked, gold(o.query), k) for o in in_scope]
        per_query["mrr@10"] = [m.mrr_at_k(o.ranked, gold(o.query), 10) for o in in_scope]
        per_query["ndcg@10"] = [m.ndcg_at_k(o.ranked, gold(o.query), 10) for o in in_scope]
        for name, values in per_query.items():
            out[name] = m.mean(values)
        labelled = [o for o in in_scope if not o.query.relevant and o.query.label]
        if labelled:
            out["label_accuracy"] = m.label_accuracy(
                [o.ranked[0] if o.ranked else None for o in labelled], [o.query.label or "" for o in labelled]
            )
    out["threshold"] = threshold
    per_language = threshold is None and bool(outcomes) and all(o.cutoff is not None for o in outcomes)
    if per_language:
        out["threshold"] = "per-language"
    if threshold is not None or per_language:

        def kept(o: QueryOutcome) -> bool:
            bar = threshold if threshold is not None else o.cutoff
            assert bar is not None
            return o.confidence >= bar

        abstained = [not kept(o) for o in outcomes]
        stats = m.abstention(abstained, [o.query.out_of_scope for o in outcomes])
        out["abstention_precision"] = stats.precision if oos else None
        out["abstention_recall"] = stats.recall if oos else None
        out["in_scope_kept"] = stats.in_scope_kept if in_scope else None
        if in_scope:
            out[f"in_scope_recall@{CALIBRATION_K}_after_abstention"] = m.mean(
                [1.0 if hit_at(o, CALIBRATION_K) and kept(o) else 0.0 for o in in_scope]
            )
        if oos:
            per_query["abstention_recall"] = [0.0 if kept(o) else 1.0 for o in oos]
    else:
        out["abstention_precision"] = out["abstention_recall"] = out["in_scope_kept"] = None
    if with_ci:
        out["ci95"] = {
            name: list(m.bootstrap_ci(per_query[name], resamples=500))
            for name in ("recall@1", "recall@3", "abstention_recall")
            if name in per_query
        }
    return out


def slices(results: Sequence[SystemResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-locale and per-channel metrics of every system (channel "none" = query without one)."""
    out: dict[str, dict[str, dict[str, Any]]] = {"locale": {}, "channel": {}}
    for dimension in ("locale", "channel"):
        values = sorted({str(getattr(o.query, dimension) or "none") for o in results[0].outcomes})
        if len(values) < 2 and dimension == "channel" and values == ["none"]:
            continue
        for value in values:
            out[dimension][value] = {
                r.spec.name: score(
                    [o for o in r.outcomes if str(getattr(o.query, dimension) or "none") == value],
                    r.threshold,
                    with_ci=False,
                )
                for r in results
            }
    return out


@dataclass
class RetrievalRun:
    results: list[SystemResult]
    calibration: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"systems": {r.spec.name: r.metrics for r in self.results}, "slices": slices(self.results)}


def evaluate(
    engine: SearchEngine,
    *,
    queries: Sequence[Query],
    articles: Sequence[ArticleCreate] = (),
    tickets: Sequence[Ticket] = (),
    calibrate_on: Sequence[Query] | None = None,
    stored_threshold: float | None = None,
    systems: Sequence[SystemSpec] = DEFAULT_SYSTEMS,
    min_in_scope: float = 0.95,
    progress: Progress | None = None,
    corpus: Corpus | None = None,
) -> RetrievalRun:
    """Indexes, runs every system on the queries, calibrates each on `calibrate_on` and scores."""
    corpus = corpus or build_corpus(
        engine,
        articles=articles,
        tickets=tickets,
        label_head=any(s.label_head for s in systems),
        progress=progress,
    )
    query_vectors = encode(
        corpus.collection.encoder,
        [q.text for q in queries],
        kind="query",
        label="encoding queries",
        progress=progress,
    )
    heads = head_probabilities(corpus, query_vectors)
    calib_vectors = calib_heads = None
    if calibrate_on:
        calib_vectors = encode(
            corpus.collection.encoder,
            [q.text for q in calibrate_on],
            kind="query",
            label="encoding calibration queries",
            progress=progress,
        )
        calib_heads = head_probabilities(corpus, calib_vectors)
    results: list[SystemResult] = []
    calibration: dict[str, dict[str, Any]] = {}
    for spec in systems:
        threshold = stored_threshold if spec.mode != "bm25" else None
        if calibrate_on and calib_vectors is not None:
            calib_outcomes = run_system(corpus, calibrate_on, calib_vectors, spec, calib_heads, progress)
            point = calibrate_threshold(calib_outcomes, min_in_scope=min_in_scope)
            threshold = point.threshold
            calibration[spec.name] = {
                "threshold": point.threshold,
                "oos_abstained": point.oos_abstained,
                "in_scope_kept": point.in_scope_kept,
                f"in_scope_recall@{CALIBRATION_K}": point.in_scope_recall,
                "objective": f"max out-of-scope abstention s.t. in-scope recall@{CALIBRATION_K} "
                f"after abstention >= {min_in_scope}",
                "curve": [
                    vars(p)
                    for p in m.threshold_curve(
                        [o.confidence for o in calib_outcomes],
                        [o.query.out_of_scope for o in calib_outcomes],
                        [hit_at(o, CALIBRATION_K) for o in calib_outcomes],
                        points=100,
                    )
                ],
            }
        outcomes = run_system(corpus, queries, query_vectors, spec, heads, progress)
        result = SystemResult(spec=spec, outcomes=outcomes, threshold=threshold)
        result.metrics = score(outcomes, threshold)
        results.append(result)
    return RetrievalRun(results=results, calibration=calibration)
