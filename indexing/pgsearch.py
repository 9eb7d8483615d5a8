"""Search collections kept in PostgreSQL with pgvector: the database is the index, replicas hold nothing.

Each collection has one table (search_articles, search_tickets; migration 5c0a1f3e9b21) with the item's
filter columns, its text with a generated full-text vector, and its embedding. Every model gets its own
partial HNSW index (cosine) on `embedding::vector(dim)`, recorded with its dimension in search_models and
checked on start, so a model change can never be compared against another model's vectors.

Writes reach the tables in the writer's own transaction: `record_changes` (core/changes.py) leaves the
changed ids on the session, and a `before_commit` hook installed by `install_write_through` loads those
items through the domain's `ItemSource` and upserts them. A write is therefore visible to every replica
the moment it commits; there is no change log to replay and no snapshot to load.

Searches filter by tenant, model, channel, locale, time and metadata in SQL. A filter that leaves few
rows is searched exactly (a sequential distance over those rows); otherwise HNSW runs with pgvector 0.8's
iterative index scan, which keeps scanning the graph until the filter has yielded top-k rows, so a
filter never empties the top-k. Keyword search is PostgreSQL full-text search with each item's language
configuration (english, french, german, spanish, italian; "simple" otherwise), not bm25s: a bm25s index
per replica would hold every text in every replica's memory and need the change log to stay current,
the two things this backend removes. In hybrid mode the keyword side scores the dense candidates and
the rows holding every query word, not every row holding any word (see PgCollection.search).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from cachetools import TTLCache
from sqlalchemy import event, text
from sqlalchemy.orm import Session, sessionmaker

from core.changes import PENDING, WRITE_THROUGH, Op
from core.errors import IndexMismatchError
from embeddings.collection import Hit, IndexedItem, SearchCollection, SearchFilter, SearchMode, fuse
from embeddings.encoder import Encoder
from indexing.engine import ItemSource, SearchEngine

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

TABLES = {"articles": "search_articles", "tickets": "search_tickets"}
# Languages the query is stemmed in: an item matches when the query, stemmed as the item's language
# was, shares a word with it (OR semantics, like BM25, rather than full-text search's default AND).
QUERY_CONFIGS = ("english", "french", "german", "spanish", "italian", "simple")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9+._-]{1,100}$")
# Upserts are sent in batches of this many rows (one round trip each, pipelined by psycopg).
WRITE_BATCH = 500
# Rows an iterative HNSW scan may visit before giving up (pgvector's default is 20 000): past the
# exact-search cut-off a filter keeps at least that share of a tenant, so this reaches top-k.
MAX_SCAN_TUPLES = 200_000
# Filter sizes kept per replica, and for how long (see PgSearchEngine.filter_sizes).
FILTER_SIZES_KEPT = 10_000
FILTER_SIZE_TTL_S = 30.0
_ITEM_COLUMNS = "item_id, key, text, channels, locale, labels, ts, extra"
NO_FILTER = SearchFilter()


def _literal(name: str) -> str:
    """A model name inlined as an SQL literal: a partial index is only used when the planner sees the
    very constant of its predicate, which a bound parameter in a generic plan is not."""
    if not _SAFE_NAME.match(name):
        raise IndexMismatchError(f"model name {name!r} cannot name a vector index")
    return f"'{name}'"


def _index_name(table: str, encoder: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", encoder.lower()).strip("_")
    return f"ix_{table}_hnsw_{slug}"[:63]


def register_vector_type(session: Session) -> None:
    """Teaches this pooled connection the vector type (binary numpy in and out), once per connection."""
    from pgvector.psycopg import register_vector

    pooled = session.connection().connection
    if not pooled.info.get("pgvector"):
        register_vector(cast("psycopg.Connection[Any]", pooled.driver_connection))
        pooled.info["pgvector"] = True


def ensure_model(session: Session, *, collection: str, encoder: Encoder) -> None:
    """Records (collection, model, dimension) and builds the model's HNSW index if it is new.

    Raises IndexMismatchError when the model was recorded with another dimension. Safe to call from
    several processes at once: they queue on an advisory lock, and all but the first find it done.
    """
    table = TABLES[collection]
    exists = session.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
    if exists is None:
        raise IndexMismatchError(
            f"table {table} is missing: this PostgreSQL has no pgvector extension, or `deflect migrate` "
            "has not run. Install pgvector (e.g. the postgresql-NN-pgvector package) and run "
            "`deflect migrate`, or set DEFLECT_VECTOR_BACKEND=faiss"
        )
    recorded = session.execute(
        text("SELECT dim FROM search_models WHERE collection = :c AND encoder = :e"),
        {"c": collection, "e": encoder.name},
    ).scalar()
    if recorded is None:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('deflect.search_models'))"))
        recorded = session.execute(
            text("SELECT dim FROM search_models WHERE collection = :c AND encoder = :e"),
            {"c": collection, "e": encoder.name},
        ).scalar()
    if recorded is not None:
        if int(recorded) != encoder.dim:
            raise IndexMismatchError(
                f"{table} holds model {encoder.name} with dimension {recorded}, but the configured one has "
                f"{encoder.dim}: rebuild with `deflect index rebuild` after removing the old model's rows"
            )
        return
    # m=16, ef_construction=64 (pgvector's defaults) reach recall@10 >= 0.95 at ef_search 100
    # under filters in the benchmark (eval/bench_scale.py).
    session.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {_index_name(table, encoder.name)} ON {table} "
            f"USING hnsw ((embedding::vector({encoder.dim})) vector_cosine_ops) "
            f"WHERE encoder = {_literal(encoder.name)}"
        )
    )
    session.execute(
        text("INSERT INTO search_models (collection, encoder, dim) VALUES (:c, :e, :d)"),
        {"c": collection, "e": encoder.name, "d": encoder.dim},
    )


class _Where:
    """A SearchFilter as SQL conditions and their parameters."""

    def __init__(self, tenant_id: str, encoder: str, flt: SearchFilter) -> None:
        self.params: dict[str, Any] = {"tenant_id": tenant_id}
        parts = ["tenant_id = :tenant_id", f"encoder = {_literal(encoder)}"]
        if flt.channels is not None:
            # no channels: every channel
            parts.append("(channels = '{}' OR channels && CAST(:channels AS text[]))")
            self.params["channels"] = list(flt.channels)
        if flt.locales is not None:
            parts.append("locale = ANY(:locales)")
            self.params["locales"] = list(flt.locales)
        if flt.since is not None:
            parts.append("ts >= :since")
            self.params["since"] = flt.since
        if flt.until is not None:
            parts.append("ts <= :until")
            self.params["until"] = flt.until
        if flt.exclude_keys:
            parts.append("NOT (key = ANY(:exclude_keys))")
            self.params["exclude_keys"] = sorted(flt.exclude_keys)
        if flt.extra_equals:
            parts.append("extra @> CAST(:extra AS jsonb)")
            self.params["extra"] = json.dumps(dict(flt.extra_equals))
        self.sql = " AND ".join(parts)
        self.timeless = flt.since is None and flt.until is None


def _item(row: Any, encoder: str) -> IndexedItem:
    return IndexedItem(
        item_id=int(row.item_id),
        key=row.key,
        text=row.text,
        encoder=encoder,
        channels=tuple(row.channels or ()),
        locale=row.locale,
        labels=tuple(row.labels or ()),
        timestamp=float(row.ts),
        extra=dict(row.extra or {}),
    )


class _Items(Mapping[int, IndexedItem]):
    """A collection's items, read from the table on demand (nothing is held in memory)."""

    def __init__(self, collection: PgCollection) -> None:
        self._collection = collection

    def __getitem__(self, item_id: int) -> IndexedItem:
        found = self._collection._items_where("item_id = :item_id", {"item_id": int(item_id)})
        if not found:
            raise KeyError(item_id)
        return found[0]

    def __iter__(self) -> Iterator[int]:
        return iter(i.item_id for i in self._collection.matching(SearchFilter()))

    def __len__(self) -> int:
        return len(self._collection)


class _IndexView:
    """Read-only stand-in for a VectorIndex, for code that counts or reads back vectors."""

    kind = "hnsw"

    def __init__(self, collection: PgCollection) -> None:
        self._collection = collection
        self.dim = collection.encoder.dim

    def count(self) -> int:
        return len(self._collection)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._collection.vectors([int(i) for i in ids])


class PgCollection:
    """One tenant's items of one kind, searched in SQL; stateless, so any replica may serve it."""

    def __init__(self, engine: PgSearchEngine, tenant_id: str, name: str) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.name = name
        self.table = TABLES[name]
        self.encoder = engine.encoder_for(name)
        self.items = _Items(self)
        self.index = _IndexView(self)
        self.lock = threading.RLock()  # nothing to guard; kept for code written for in-memory collections
        self.last_seq = 0

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A short read transaction on a pooled connection that knows the vector type."""
        with self.engine.session_factory() as session, session.begin():
            register_vector_type(session)
            yield session

    def __len__(self) -> int:
        return self.count_matching(SearchFilter())

    def fingerprint(self) -> tuple[int, int, int]:
        """Changes whenever a row of this tenant's collection is added, deleted or rewritten (the row
        count, the largest id and the newest row version): what a replica's copy of it is checked by."""
        with self._session() as session:
            row = session.execute(
                text(
                    f"SELECT count(*), coalesce(max(item_id), 0), coalesce(max(xmin::text::bigint), 0) "
                    f"FROM {self.table} WHERE tenant_id = :t"
                ),
                {"t": self.tenant_id},
            ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def count_matching(self, flt: SearchFilter) -> int:
        where = _Where(self.tenant_id, self.encoder.name, flt)
        with self._session() as session:
            return int(
                session.execute(
                    text(f"SELECT count(*) FROM {self.table} WHERE {where.sql}"), where.params
                ).scalar()
                or 0
            )

    def _items_where(self, condition: str, params: dict[str, Any]) -> list[IndexedItem]:
        where = _Where(self.tenant_id, self.encoder.name, SearchFilter())
        with self._session() as session:
            rows = session.execute(
                text(
                    f"SELECT {_ITEM_COLUMNS} FROM {self.table} "
                    f"WHERE {where.sql} AND {condition} ORDER BY item_id"
                ),
                {**where.params, **params},
            )
            return [_item(row, self.encoder.name) for row in rows]

    def matching(self, flt: SearchFilter) -> list[IndexedItem]:
        where = _Where(self.tenant_id, self.encoder.name, flt)
        with self._session() as session:
            rows = session.execute(
                text(f"SELECT {_ITEM_COLUMNS} FROM {self.table} WHERE {where.sql} ORDER BY item_id"),
                where.params,
            )
            return [_item(row, self.encoder.name) for row in rows]

    def vectors(self, item_ids: Sequence[int]) -> np.ndarray:
        if not item_ids:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        with self._session() as session:
            rows = session.execute(
                text(
                    f"SELECT item_id, embedding FROM {self.table} "
                    f"WHERE tenant_id = :t AND item_id = ANY(:ids)"
                ),
                {"t": self.tenant_id, "ids": [int(i) for i in item_ids]},
            )
            found = {int(r.item_id): r.embedding.to_numpy() for r in rows}
        return np.stack([found[int(i)] for i in item_ids]).astype(np.float32)

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        *,
        top_k: int,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = NO_FILTER,
        candidates: int = 50,
    ) -> list[Hit]:
        pool = max(candidates, top_k)
        where = _Where(self.tenant_id, self.encoder.name, flt)
        rows: dict[int, IndexedItem] = {}
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        with self._session() as session:
            if mode in ("hybrid", "dense") and query_vector is not None:
                dense = self._dense(session, where, np.asarray(query_vector, dtype=np.float32), pool, rows)
            if mode in ("hybrid", "bm25") and query.strip():
                # Hybrid: keyword scores for the dense candidates plus the rows holding every query word.
                # Ranking every row that holds any word (bm25 mode) costs time in proportion to the
                # matches, which common words make most of the tenant (measured: eval/bench_scale.py).
                near = [item_id for item_id, _ in dense] if mode == "hybrid" else None
                sparse = self._keyword(session, where, query, pool, rows, near)
        return fuse(
            dense,
            sparse,
            rows,
            mode=mode,
            top_k=top_k,
            rrf_k=self.engine.rrf_k,
            bm25_weight=self.engine.bm25_weight,
        )

    def _dense(
        self, session: Session, where: _Where, vector: np.ndarray, pool: int, rows: dict[int, IndexedItem]
    ) -> list[tuple[int, float]]:
        dim = self.encoder.dim
        distance = f"embedding::vector({dim}) <=> CAST(:q AS vector({dim}))"
        params = {**where.params, "q": vector, "k": pool}
        exact_max = self.engine.exact_max
        settings = {"ef": str(max(self.engine.ef_search, pool)), "scan": str(MAX_SCAN_TUPLES)}
        # The settings for the HNSW walk ride along with the count, or go alone when it is known.
        hnsw_settings = (
            "SELECT set_config('hnsw.ef_search', :ef, true), "
            "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.max_scan_tuples', :scan, true)"
        )
        size_key = None
        if where.timeless:
            size_key = (self.table, where.sql, json.dumps(where.params, sort_keys=True, default=str))
        matching = self.engine.filter_size(size_key) if size_key is not None else None
        if matching is None:
            # Few rows pass the filter: scan them exactly (an HNSW walk would visit far more to find them).
            matching = int(
                session.execute(
                    text(
                        f"{hnsw_settings}, (SELECT count(*) FROM "
                        f"(SELECT 1 FROM {self.table} WHERE {where.sql} LIMIT :cap) AS m)"
                    ),
                    {**where.params, **settings, "cap": exact_max + 1},
                ).one()[3]
                or 0
            )
            if matching == 0:
                return []
            if size_key is not None:
                self.engine.remember_filter_size(size_key, matching)
        else:
            session.execute(text(hnsw_settings), settings)
        found = None
        if matching > exact_max:
            # Over-fetch to ef_search rows and keep the best `pool`: with relaxed ordering the walk's
            # first rows are not exactly the nearest, and a wider walk under a filter finds the ones
            # it would otherwise miss (recall under filters: eval/bench_scale.py).
            found = session.execute(
                text(
                    f"SELECT {_ITEM_COLUMNS}, 1 - ({distance}) AS score FROM {self.table} "
                    f"WHERE {where.sql} ORDER BY {distance} LIMIT :fetch"
                ),
                {**params, "fetch": max(pool, self.engine.ef_search)},
            ).all()
            if len(found) < min(pool, matching):
                found = None  # the graph walk gave up early: fall back to the exact scan below
        if found is None:
            # MATERIALIZED keeps the planner from pushing the ORDER BY into the HNSW index.
            found = session.execute(
                text(
                    f"WITH candidates AS MATERIALIZED (SELECT * FROM {self.table} WHERE {where.sql}) "
                    f"SELECT {_ITEM_COLUMNS}, 1 - ({distance}) AS score FROM candidates "
                    f"ORDER BY {distance} LIMIT :k"
                ),
                params,
            ).all()
        ranked = sorted(((float(r.score), r) for r in found), key=lambda pair: -pair[0])[:pool]
        for _, row in ranked:
            rows.setdefault(int(row.item_id), _item(row, self.encoder.name))
        return [(int(row.item_id), score) for score, row in ranked]

    def _keyword(
        self,
        session: Session,
        where: _Where,
        query: str,
        pool: int,
        rows: dict[int, IndexedItem],
        near: list[int] | None,
    ) -> list[tuple[int, float]]:
        # The query stemmed by each language; plainto_tsquery joins words with AND, and turning & into |
        # gives BM25's any-word semantics.
        any_word = " || ".join(
            f"replace(plainto_tsquery('{config}', :query)::text, '&', '|')::tsquery"
            for config in QUERY_CONFIGS
        )
        every_word = " || ".join(f"plainto_tsquery('{config}', :query)" for config in QUERY_CONFIGS)
        params: dict[str, Any] = {**where.params, "query": query, "k": pool}
        if near is None:
            statement = (
                f"WITH q AS MATERIALIZED (SELECT {any_word} AS any_word) "
                f"SELECT {_ITEM_COLUMNS}, ts_rank(tsv, q.any_word) AS score FROM {self.table}, q "
                f"WHERE {where.sql} AND tsv @@ q.any_word ORDER BY score DESC, item_id LIMIT :k"
            )
        else:
            # The candidates are named first and tested for any word after: left to itself, the planner
            # intersects the dense ids with the full-text index's any-word matches, which common words
            # make most of the table (40 ms of a 45 ms query at 100 k chunks; 4 ms this way).
            params["near"] = near
            statement = (
                f"WITH q AS MATERIALIZED (SELECT {any_word} AS any_word, {every_word} AS every_word), "
                "picked AS MATERIALIZED (SELECT unnest(CAST(:near AS bigint[])) AS item_id "
                f"UNION SELECT item_id FROM {self.table}, q WHERE tsv @@ q.every_word), "
                f"scored AS MATERIALIZED (SELECT {_ITEM_COLUMNS}, tsv @@ q.any_word AS matched, "
                f"ts_rank(tsv, q.any_word) AS score FROM picked JOIN {self.table} USING (item_id), q "
                f"WHERE {where.sql}) "
                f"SELECT {_ITEM_COLUMNS}, score FROM scored WHERE matched "
                "ORDER BY score DESC, item_id LIMIT :k"
            )
        found = session.execute(text(statement), params).all()
        for row in found:
            rows.setdefault(int(row.item_id), _item(row, self.encoder.name))
        return [(int(row.item_id), float(row.score)) for row in found]


class PgSearchEngine(SearchEngine):
    """The search engine when vectors live in PostgreSQL: no snapshots, no change log, no catch-up.

    Inherits the encoders and the in-memory `build` (the evaluation runner's throwaway collections)
    from SearchEngine; every tenant collection is a `PgCollection`.
    """

    def __init__(
        self,
        *,
        encoder: Encoder,
        session_factory: sessionmaker[Session],
        rrf_k: int = 60,
        bm25_weight: float = 0.5,
        collection_encoders: dict[str, Encoder] | None = None,
        sources: Mapping[str, ItemSource] | None = None,
        ef_search: int = 100,
        exact_max: int = 5000,
    ) -> None:
        super().__init__(
            encoder=encoder,
            session_factory=session_factory,
            snapshot_dir=None,
            rrf_k=rrf_k,
            bm25_weight=bm25_weight,
            collection_encoders=collection_encoders,
            sources=sources,
        )
        self.session_factory: sessionmaker[Session] = session_factory
        self.ef_search = ef_search
        self.exact_max = exact_max
        self._checked: set[str] = set()
        self._pg: dict[tuple[str, str], PgCollection] = {}
        # How many rows a filter without a time bound lets through, capped at exact_max + 1: it only
        # chooses between the exact scan and the HNSW walk, never what a search returns (a walk that
        # comes back short falls back to the exact scan), so a count a few seconds old is safe. Counting
        # took 8 of a 26 ms suggest at 100 k chunks (a heap scan that evaluates the channel filter).
        # An empty result is never remembered, so a tenant's first rows are found at once.
        self._filter_sizes: TTLCache[tuple[str, str, str], int] = TTLCache(
            maxsize=FILTER_SIZES_KEPT, ttl=FILTER_SIZE_TTL_S
        )
        self._filter_sizes_lock = threading.Lock()

    def filter_size(self, key: tuple[str, str, str]) -> int | None:
        with self._filter_sizes_lock:
            return self._filter_sizes.get(key)

    def remember_filter_size(self, key: tuple[str, str, str], size: int) -> None:
        with self._filter_sizes_lock:
            self._filter_sizes[key] = size

    def ensure_models(self) -> None:
        """Checks (or records) each collection's model and builds its index: `deflect migrate` and start."""
        for name in TABLES:
            self._ensure(name)

    def _ensure(self, name: str) -> None:
        if name in self._checked:
            return
        with self.session_factory() as session, session.begin():
            ensure_model(session, collection=name, encoder=self.encoder_for(name))
        self._checked.add(name)

    def collection(self, tenant_id: str, name: str) -> SearchCollection:
        return self.pg_collection(tenant_id, name)

    def pg_collection(self, tenant_id: str, name: str) -> PgCollection:
        key = (tenant_id, name)
        with self._lock:
            found = self._pg.get(key)
        if found is None:
            self._ensure(name)
            found = PgCollection(self, tenant_id, name)
            with self._lock:
                found = self._pg.setdefault(key, found)
        return found

    def loaded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._pg)

    def catch_up(self, tenant_id: str, name: str, collection: Any = None) -> int:
        return 0  # every committed write is already in the table

    def sync_all(self) -> int:
        return 0

    def is_caught_up(self) -> bool:
        return True

    def save(self, tenant_id: str, name: str) -> None:
        return None

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            for key in list(self._pg):
                if tenant_id is None or key[0] == tenant_id:
                    del self._pg[key]

    def stats(self) -> dict[str, int]:
        return {f"{t}/{n}": len(self.pg_collection(t, n)) for t, n in self.loaded()}

    # -- writes -----------------------------------------------------------------
    def write_changes(self, session: Session, pending: Mapping[tuple[str, str], Mapping[int, Op]]) -> None:
        """Applies a transaction's announced changes to the search tables, inside that transaction."""
        register_vector_type(session)
        for (tenant_id, name), ops in pending.items():
            if name not in self._sources or name not in TABLES:
                continue
            self._ensure(name)
            deletes = [item_id for item_id, op in ops.items() if op == "delete"]
            upserts = [item_id for item_id, op in ops.items() if op == "upsert"]
            if deletes:
                session.execute(
                    text(f"DELETE FROM {TABLES[name]} WHERE tenant_id = :t AND item_id = ANY(:ids)"),
                    {"t": tenant_id, "ids": deletes},
                )
            for start in range(0, len(upserts), 5000):  # the driver's bound-parameter limit
                self.upsert_items(session, tenant_id, name, upserts[start : start + 5000])

    def upsert_items(self, session: Session, tenant_id: str, name: str, item_ids: Sequence[int]) -> int:
        """Loads these items from their domain table and writes them (encoding any without a vector)."""
        source = self._sources[name]
        items = source.load(session, tenant_id=tenant_id, item_ids=list(item_ids), with_vectors=True)
        gone = sorted(set(item_ids) - {i.item_id for i in items})
        if gone:  # announced, then deleted in the same transaction
            session.execute(
                text(f"DELETE FROM {TABLES[name]} WHERE tenant_id = :t AND item_id = ANY(:ids)"),
                {"t": tenant_id, "ids": gone},
            )
        if not items:
            return 0
        vectors, fresh = self._vectors_for(name, items)
        encoder = self.encoder_for(name).name
        if fresh:  # the domain row keeps its vector too, as in the embedded mode
            source.store_vectors(session, tenant_id=tenant_id, vectors=fresh, encoder=encoder)
        write_rows(session, TABLES[name], tenant_id, encoder, items, vectors)
        return len(items)

    def rebuild(
        self, tenant_id: str, name: str, progress: Callable[[int], None] | None = None
    ) -> SearchCollection:
        """Rewrites every item of the collection from its domain table (e.g. after a model change)."""
        reconcile(self, tenant_id, name, force=True, progress=progress)
        return self.pg_collection(tenant_id, name)


def write_rows(
    session: Session,
    table: str,
    tenant_id: str,
    encoder: str,
    items: Sequence[IndexedItem],
    vectors: np.ndarray,
) -> None:
    statement = text(
        f"INSERT INTO {table} (item_id, tenant_id, key, text, channels, locale, labels, ts, extra, encoder, "
        "embedding) VALUES (:item_id, :tenant_id, :key, :text, :channels, :locale, :labels, :ts, "
        "CAST(:extra AS jsonb), :encoder, :embedding) "
        "ON CONFLICT (item_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, key = EXCLUDED.key, "
        "text = EXCLUDED.text, channels = EXCLUDED.channels, locale = EXCLUDED.locale, "
        "labels = EXCLUDED.labels, ts = EXCLUDED.ts, extra = EXCLUDED.extra, encoder = EXCLUDED.encoder, "
        "embedding = EXCLUDED.embedding"
    )
    register_vector_type(session)
    for start in range(0, len(items), WRITE_BATCH):
        batch = items[start : start + WRITE_BATCH]
        session.execute(
            statement,
            [
                {
                    "item_id": item.item_id,
                    "tenant_id": tenant_id,
                    "key": item.key,
                    "text": item.text,
                    "channels": list(item.channels),
                    "locale": item.locale,
                    "labels": list(item.labels),
                    "ts": item.timestamp,
                    "extra": json.dumps(item.extra, default=str),
                    "encoder": encoder,
                    "embedding": vectors[start + row],
                }
                for row, item in enumerate(batch)
            ],
        )


def reconcile(
    engine: PgSearchEngine,
    tenant_id: str,
    name: str,
    *,
    force: bool = False,
    after_id: int = 0,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[int], None] | None = None,
) -> int:
    """Makes the search table match the domain table for one tenant's collection, in id order.

    Items without a row for the configured model are written (all of them when `force`), rows whose
    item is gone are deleted. Each batch commits on its own and reports its last id to `checkpoint`,
    so a run that is killed resumes from `after_id` without redoing finished batches. Returns the
    number of items written.
    """
    engine._ensure(name)
    source = engine._sources[name]
    table = TABLES[name]
    encoder = engine.encoder_for(name).name
    with engine.session_factory() as session:
        ids = [i for i in source.ids(session, tenant_id=tenant_id) if i > after_id]
    written = 0
    previous = after_id
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with engine.session_factory() as session, session.begin():
            register_vector_type(session)
            todo = chunk
            if not force:
                present = set(
                    session.execute(
                        text(
                            f"SELECT item_id FROM {table} WHERE item_id = ANY(:ids) "
                            f"AND encoder = {_literal(encoder)}"
                        ),
                        {"ids": chunk},
                    ).scalars()
                )
                todo = [i for i in chunk if i not in present]
            if todo:
                written += engine.upsert_items(session, tenant_id, name, todo)
            # Rows of this tenant between the previous batch and this one whose item no longer exists.
            session.execute(
                text(
                    f"DELETE FROM {table} WHERE tenant_id = :t AND item_id > :lo AND item_id <= :hi "
                    "AND NOT (item_id = ANY(:ids))"
                ),
                {"t": tenant_id, "lo": previous, "hi": chunk[-1], "ids": chunk},
            )
        previous = chunk[-1]
        if progress:
            progress(len(chunk))
        if checkpoint:
            checkpoint(previous)
    with engine.session_factory() as session, session.begin():
        session.execute(
            text(f"DELETE FROM {table} WHERE tenant_id = :t AND item_id > :lo"),
            {"t": tenant_id, "lo": previous},
        )
    return written


def install_write_through(
    session_factory: sessionmaker[Session], engine: Callable[[], PgSearchEngine]
) -> None:
    """Makes every session of this factory write its announced search changes before it commits.

    `engine` is called only when a transaction has changes, so a process that never writes never loads
    an encoder.
    """
    session_factory.configure(info={**session_factory.kw.get("info", {}), WRITE_THROUGH: True})

    def _before_commit(session: Session) -> None:
        pending = session.info.pop(PENDING, None)
        if pending:
            engine().write_changes(session, pending)

    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING, None)

    event.listen(session_factory, "before_commit", _before_commit)
    event.listen(session_factory, "after_rollback", _after_rollback)
