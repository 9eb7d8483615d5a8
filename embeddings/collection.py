"""One tenant's searchable items of one kind: vectors, keyword index, metadata filters, fusion.

Pure in-memory search over items it is handed; it knows no database, no domain model and no file
layout (see embeddings.snapshot for those files, indexing/ for keeping a collection in sync).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from embeddings.encoder import Encoder
from embeddings.index import IndexBackend, IndexKind, VectorIndex, make_index
from embeddings.keyword import Analysis, KeywordIndex

SearchMode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class IndexedItem:
    item_id: int
    key: str
    text: str
    vector: bytes | None = None
    encoder: str | None = None
    channels: tuple[str, ...] = ()
    locale: str = "en"
    labels: tuple[str, ...] = ()
    timestamp: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchFilter:
    """Applied inside both searches, before top-k, never by truncating afterwards."""

    # Rows scoped to any of these channels or to none; None: every row.
    channels: tuple[str, ...] | None = None
    locales: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    exclude_keys: frozenset[str] = frozenset()
    extra_equals: tuple[tuple[str, Any], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == SearchFilter()


@dataclass
class Pool:
    """A query's candidates: the dense and keyword top items, with their stored vectors and the BM25
    score of each (0 where the keywords do not match), for a ranking that needs more than one score."""

    items: list[IndexedItem]
    vectors: np.ndarray  # (items, dim), as stored in the index
    keyword: np.ndarray  # (items,)
    coverage: np.ndarray  # (items,): share of the query's terms each item contains


@dataclass
class Hit:
    item: IndexedItem
    score: float
    dense_score: float | None
    bm25_score: float | None
    dense_rank: int | None
    bm25_rank: int | None


class _Columns:
    """Item metadata as numpy columns, so a filter over a million items is a few vector operations.

    Rows are appended on add and tombstoned on delete (compacted when half are dead), so a
    write never re-scans the whole collection.
    """

    def __init__(self) -> None:
        self.size = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.timestamps = np.zeros(0, dtype=np.float64)
        self.channel_bits = np.zeros(0, dtype=np.int64)
        self.locales = np.zeros(0, dtype=np.int32)
        self.alive = np.zeros(0, dtype=bool)
        self.row_of: dict[int, int] = {}
        self.rows_of_key: dict[str, set[int]] = {}
        self._channel_bit: dict[str, int] = {}
        self._locale_code: dict[str, int] = {}

    def _grow(self, needed: int) -> None:
        capacity = len(self.ids)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 64)
        for name in ("ids", "timestamps", "channel_bits", "locales", "alive"):
            old = getattr(self, name)
            grown = np.zeros(capacity, dtype=old.dtype)
            grown[: self.size] = old[: self.size]
            setattr(self, name, grown)

    def bit(self, channel: str) -> int:
        if channel not in self._channel_bit:
            self._channel_bit[channel] = 1 << len(self._channel_bit)
        return self._channel_bit[channel]

    def code(self, locale: str) -> int:
        return self._locale_code.setdefault(locale, len(self._locale_code))

    def upsert(self, item: IndexedItem, old_key: str | None) -> None:
        row = self.row_of.get(item.item_id)
        if row is None:
            self._grow(self.size + 1)
            row = self.size
            self.size += 1
            self.row_of[item.item_id] = row
        elif old_key is not None and old_key != item.key:
            self.rows_of_key.get(old_key, set()).discard(row)
        self.ids[row] = item.item_id
        self.timestamps[row] = item.timestamp
        bits = 0
        for channel in item.channels:
            bits |= self.bit(channel)
        self.channel_bits[row] = bits
        self.locales[row] = self.code(item.locale)
        self.alive[row] = True
        self.rows_of_key.setdefault(item.key, set()).add(row)

    def delete(self, item_id: int, key: str | None) -> None:
        row = self.row_of.pop(item_id, None)
        if row is not None:
            self.alive[row] = False
            if key is not None:
                self.rows_of_key.get(key, set()).discard(row)

    def mask(self, flt: SearchFilter, items: dict[int, IndexedItem]) -> np.ndarray:
        n = self.size
        mask = self.alive[:n].copy()
        if flt.channels is not None:
            bits = self.channel_bits[:n]
            known = 0
            for channel in flt.channels:
                known |= self._channel_bit.get(channel, 0)
            mask &= (bits == 0) | ((bits & known) != 0) if known else (bits == 0)
        if flt.locales is not None:
            codes = [self._locale_code[loc] for loc in flt.locales if loc in self._locale_code]
            mask &= np.isin(self.locales[:n], codes)
        if flt.since is not None:
            mask &= self.timestamps[:n] >= flt.since
        if flt.until is not None:
            mask &= self.timestamps[:n] <= flt.until
        for key in flt.exclude_keys:
            for row in self.rows_of_key.get(key, ()):
                mask[row] = False
        if flt.extra_equals:
            for flagged in np.flatnonzero(mask):
                row = int(flagged)
                extra = items[int(self.ids[row])].extra
                if not all(extra.get(name) == value for name, value in flt.extra_equals):
                    mask[row] = False
        return mask

    def dead_share(self) -> float:
        return 1 - len(self.row_of) / self.size if self.size else 0.0


class Collection:
    """One tenant's searchable items of one kind, with its dense and keyword indexes."""

    def __init__(
        self,
        *,
        encoder: Encoder,
        rrf_k: int,
        bm25_weight: float,
        backend: IndexBackend = "faiss",
        analysis: Analysis = "plain",
    ) -> None:
        self.encoder = encoder
        self.analysis: Analysis = analysis
        self.backend: IndexBackend = backend
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.items: dict[int, IndexedItem] = {}
        self.index: VectorIndex = make_index(backend, encoder.dim, "flat")
        self.last_seq = 0
        self.lock = threading.RLock()
        self._columns = _Columns()
        self._keyword: KeywordIndex | None = None
        self._keyword_rows: np.ndarray = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def set_items(self, items: Sequence[IndexedItem]) -> None:
        """Replaces the metadata wholesale (the vectors are already in the index)."""
        with self.lock:
            self.items = {}
            self._columns = _Columns()
            self._index_metadata(items)

    def _index_metadata(self, items: Sequence[IndexedItem]) -> None:
        for item in items:
            previous = self.items.get(item.item_id)
            self._columns.upsert(item, previous.key if previous else None)
            self.items[item.item_id] = item
        self._keyword = None

    def apply(
        self, upserts: Sequence[IndexedItem], vectors: np.ndarray | None, deletes: Sequence[int]
    ) -> None:
        with self.lock:
            if deletes:
                self.index.remove(np.asarray(deletes, dtype=np.int64))
                for item_id in deletes:
                    gone = self.items.pop(item_id, None)
                    self._columns.delete(item_id, gone.key if gone else None)
                self._keyword = None
            if upserts:
                assert vectors is not None
                self.index.add(np.asarray([i.item_id for i in upserts], dtype=np.int64), vectors)
                self._index_metadata(upserts)
            if self._columns.dead_share() > 0.5:
                self.set_items(list(self.items.values()))

    def _ensure_keyword(self) -> KeywordIndex:
        """Built lazily, only when a search needs keywords; any write invalidates it."""
        if self._keyword is None:
            self._keyword_rows = np.flatnonzero(self._columns.alive[: self._columns.size])
            ids = self._columns.ids[self._keyword_rows]
            self._keyword = KeywordIndex(
                [self.items[int(i)].text for i in ids],
                [self.items[int(i)].locale for i in ids],
                analysis=self.analysis,
            )
        return self._keyword

    def keyword_index(self) -> KeywordIndex:
        with self.lock:
            return self._ensure_keyword()

    def pool(
        self,
        query_vector: np.ndarray,
        keyword_terms: list[str],
        *,
        flt: SearchFilter = SearchFilter(),
        size: int = 60,
        words: list[list[str]] | None = None,
    ) -> Pool:
        """The union of the `size` nearest items and the `size` best keyword matches, filtered inside."""
        with self.lock:
            none = np.zeros(0, dtype=np.float32)
            empty = Pool([], np.zeros((0, self.encoder.dim), dtype=np.float32), none, none)
            if not self.items:
                return empty
            mask = None if flt.is_empty else self._columns.mask(flt, self.items)
            allowed_ids = None
            if mask is not None:
                allowed_ids = self._columns.ids[: self._columns.size][mask]
                if len(allowed_ids) == 0:
                    return empty
                if len(allowed_ids) == len(self.items):
                    allowed_ids = None
            _, ids = self.index.search(query_vector.reshape(1, -1), size, allowed_ids)
            chosen = [int(i) for i in ids[0] if i >= 0]
            keyword = self._ensure_keyword()
            scores = keyword.scores(keyword_terms)
            coverage = keyword.coverage(words if words is not None else [[t] for t in keyword_terms])
            by_id: dict[int, float] = {}
            covered: dict[int, float] = {}
            keyword_side = bool(keyword_terms) and len(scores) > 0
            row_ids = self._columns.ids[self._keyword_rows] if keyword_side else self._columns.ids[:0]
            if keyword_side:
                if mask is not None:
                    scores = np.where(mask[self._keyword_rows], scores, 0.0)
                k = min(size, len(scores))
                top = np.argpartition(-scores, k - 1)[:k]
                chosen += [int(row_ids[r]) for r in top if scores[r] > 0]
            chosen = [i for i in dict.fromkeys(chosen) if i in self.items]
            if not chosen:
                return empty
            if keyword_side:
                # Only the pooled rows' scores: a dict over every matching row cost 100 ms a query at
                # 100 k chunks, where common words match most of the corpus.
                rows = np.flatnonzero(np.isin(row_ids, np.asarray(chosen, dtype=row_ids.dtype)))
                by_id = {int(row_ids[r]): float(scores[r]) for r in rows if scores[r] > 0}
                covered = {int(row_ids[r]): float(coverage[r]) for r in rows if coverage[r] > 0}
            vectors = self.index.vectors(np.asarray(chosen, dtype=np.int64))
            return Pool(
                items=[self.items[i] for i in chosen],
                vectors=np.asarray(vectors, dtype=np.float32),
                keyword=np.asarray([by_id.get(i, 0.0) for i in chosen], dtype=np.float32),
                coverage=np.asarray([covered.get(i, 0.0) for i in chosen], dtype=np.float32),
            )

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        *,
        top_k: int,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
        candidates: int = 50,
        languages: tuple[str, ...] = ("en",),
    ) -> list[Hit]:
        with self.lock:
            if not self.items:
                return []
            mask = None if flt.is_empty else self._columns.mask(flt, self.items)
            allowed_ids = None
            if mask is not None:
                allowed_ids = self._columns.ids[: self._columns.size][mask]
                if len(allowed_ids) == 0:
                    return []
                if len(allowed_ids) == len(self.items):
                    allowed_ids = None
            pool = max(candidates, top_k)
            dense: list[tuple[int, float]] = []
            if mode in ("hybrid", "dense") and query_vector is not None:
                scores, ids = self.index.search(query_vector.reshape(1, -1), pool, allowed_ids)
                dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            sparse: list[tuple[int, float]] = []
            if mode in ("hybrid", "bm25"):
                keyword = self._ensure_keyword()
                keyword_mask = mask[self._keyword_rows] if mask is not None else None
                positions, scores_kw = keyword.search(query, pool, keyword_mask, languages=languages)
                row_ids = self._columns.ids[self._keyword_rows[positions]]
                sparse = [(int(i), float(s)) for i, s in zip(row_ids, scores_kw, strict=True)]
        return self._fuse(dense, sparse, mode, top_k)

    def _fuse(
        self, dense: list[tuple[int, float]], sparse: list[tuple[int, float]], mode: SearchMode, top_k: int
    ) -> list[Hit]:
        return fuse(
            dense, sparse, self.items, mode=mode, top_k=top_k, rrf_k=self.rrf_k, bm25_weight=self.bm25_weight
        )

    def count_matching(self, flt: SearchFilter) -> int:
        """How many items pass the filter."""
        with self.lock:
            if flt.is_empty:
                return len(self.items)
            return int(self._columns.mask(flt, self.items).sum())

    def matching(self, flt: SearchFilter) -> list[IndexedItem]:
        """The items that pass the filter, in id order."""
        with self.lock:
            ids = self._columns.ids[: self._columns.size][self._columns.mask(flt, self.items)]
            return [self.items[int(i)] for i in sorted(ids)]

    def vectors(self, item_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of these items, in order."""
        with self.lock:
            return self.index.vectors(np.asarray(item_ids, dtype=np.int64))


class SearchCollection(Protocol):
    """What callers may use of a collection, whichever engine holds it: this process's memory
    (`Collection`) or a database table searched in SQL (indexing.pgsearch)."""

    encoder: Encoder

    def __len__(self) -> int: ...

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        *,
        top_k: int,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
        candidates: int = 50,
    ) -> list[Hit]: ...

    def count_matching(self, flt: SearchFilter) -> int: ...

    def matching(self, flt: SearchFilter) -> list[IndexedItem]: ...

    def vectors(self, item_ids: Sequence[int]) -> np.ndarray: ...


def fuse(
    dense: Sequence[tuple[int, float]],
    sparse: Sequence[tuple[int, float]],
    items: Mapping[int, IndexedItem],
    *,
    mode: SearchMode,
    top_k: int,
    rrf_k: int,
    bm25_weight: float,
) -> list[Hit]:
    """Weighted reciprocal-rank fusion of a dense and a keyword ranking (either may be empty)."""
    dense_rank = {item_id: rank for rank, (item_id, _) in enumerate(dense)}
    sparse_rank = {item_id: rank for rank, (item_id, _) in enumerate(sparse)}
    dense_score = dict(dense)
    sparse_score = dict(sparse)
    fused: dict[int, float] = {}
    w = bm25_weight if mode == "hybrid" else (1.0 if mode == "bm25" else 0.0)
    for item_id, rank in dense_rank.items():
        fused[item_id] = fused.get(item_id, 0.0) + (1 - w) / (rrf_k + rank + 1)
    for item_id, rank in sparse_rank.items():
        fused[item_id] = fused.get(item_id, 0.0) + w / (rrf_k + rank + 1)
    order = sorted(fused, key=lambda i: (-fused[i], -dense_score.get(i, -2.0)))[:top_k]
    hits = []
    for item_id in order:
        item = items.get(item_id)
        if item is None:
            continue
        score = (
            dense_score.get(item_id, 0.0)
            if mode == "dense"
            else (sparse_score.get(item_id, 0.0) if mode == "bm25" else fused[item_id])
        )
        hits.append(
            Hit(
                item=item,
                score=score,
                dense_score=dense_score.get(item_id),
                bm25_score=sparse_score.get(item_id),
                dense_rank=dense_rank.get(item_id),
                bm25_rank=sparse_rank.get(item_id),
            )
        )
    return hits


def build_collection(
    *,
    encoder: Encoder,
    items: Sequence[IndexedItem],
    vectors: np.ndarray,
    kind: IndexKind,
    rrf_k: int,
    bm25_weight: float,
    backend: IndexBackend = "faiss",
    analysis: Analysis = "plain",
) -> Collection:
    """A collection over these items with an exact (flat) or IVF layout."""
    collection = Collection(
        encoder=encoder, rrf_k=rrf_k, bm25_weight=bm25_weight, backend=backend, analysis=analysis
    )
    if kind == "ivf" and len(items):
        collection.index = make_index(backend, encoder.dim, "ivf", train_vectors=vectors)
    collection.apply(items, vectors, [])
    return collection
