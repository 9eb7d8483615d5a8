"""Hybrid search engine: one FAISS index + one BM25 index per (tenant, collection).

The database is the source of truth. Each collection loads a snapshot from disk when it
matches the configured model, otherwise rebuilds from the database, then replays the
change log past the snapshot's sequence number. Domains plug in an `ItemSource` that
turns their rows into `IndexedItem`s; this package knows nothing about articles or tickets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.db import SQLITE_BUSY_TIMEOUT_MS
from core.errors import IndexMismatchError
from core.models import ChangeLog
from embeddings.encoder import Encoder
from embeddings.index import FaissIndex, IndexKind, SnapshotCorruptError, write_json_atomic
from embeddings.keyword import KeywordIndex

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "dense", "bm25"]
SNAPSHOT_FORMAT = 1


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


class ItemSource(Protocol):
    def load(
        self, session: Session, *, tenant_id: str, item_ids: Sequence[int] | None, with_vectors: bool
    ) -> list[IndexedItem]: ...

    def store_vectors(
        self, session: Session, *, tenant_id: str, vectors: dict[int, bytes], encoder: str
    ) -> None: ...


@dataclass(frozen=True)
class SearchFilter:
    """Applied inside both searches, before top-k, never by truncating afterwards."""

    channel: str | None = None
    locales: tuple[str, ...] | None = None
    since: float | None = None
    until: float | None = None
    exclude_keys: frozenset[str] = frozenset()
    extra_equals: tuple[tuple[str, Any], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self == SearchFilter()


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
        if flt.channel is not None:
            bits = self.channel_bits[:n]
            known = self._channel_bit.get(flt.channel)
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
            for row in np.flatnonzero(mask):
                extra = items[int(self.ids[row])].extra
                if not all(extra.get(name) == value for name, value in flt.extra_equals):
                    mask[row] = False
        return mask

    def dead_share(self) -> float:
        return 1 - len(self.row_of) / self.size if self.size else 0.0


class Collection:
    """One tenant's searchable items of one kind, with its dense and keyword indexes."""

    def __init__(self, *, encoder: Encoder, kind: IndexKind, rrf_k: int, bm25_weight: float) -> None:
        self.encoder = encoder
        self.kind = kind
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.items: dict[int, IndexedItem] = {}
        self.index = FaissIndex(encoder.dim, "flat")
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
            self._keyword = KeywordIndex([self.items[int(i)].text for i in ids])
        return self._keyword

    def search(
        self,
        query: str,
        query_vector: np.ndarray | None,
        *,
        top_k: int,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
        candidates: int = 50,
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
                positions, scores_kw = keyword.search(query, pool, keyword_mask)
                row_ids = self._columns.ids[self._keyword_rows[positions]]
                sparse = [(int(i), float(s)) for i, s in zip(row_ids, scores_kw, strict=True)]
        return self._fuse(dense, sparse, mode, top_k)

    def _fuse(
        self, dense: list[tuple[int, float]], sparse: list[tuple[int, float]], mode: SearchMode, top_k: int
    ) -> list[Hit]:
        dense_rank = {item_id: rank for rank, (item_id, _) in enumerate(dense)}
        sparse_rank = {item_id: rank for rank, (item_id, _) in enumerate(sparse)}
        dense_score = dict(dense)
        sparse_score = dict(sparse)
        fused: dict[int, float] = {}
        w = self.bm25_weight if mode == "hybrid" else (1.0 if mode == "bm25" else 0.0)
        for item_id, rank in dense_rank.items():
            fused[item_id] = fused.get(item_id, 0.0) + (1 - w) / (self.rrf_k + rank + 1)
        for item_id, rank in sparse_rank.items():
            fused[item_id] = fused.get(item_id, 0.0) + w / (self.rrf_k + rank + 1)
        order = sorted(fused, key=lambda i: (-fused[i], -dense_score.get(i, -2.0)))[:top_k]
        hits = []
        for item_id in order:
            item = self.items.get(item_id)
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


class SearchEngine:
    """Owns every loaded collection; shared by the API, the CLI and the evaluation runner."""

    def __init__(
        self,
        *,
        encoder: Encoder,
        session_factory: sessionmaker[Session] | None,
        snapshot_dir: Path | None,
        index_kind: Literal["auto", "flat", "ivf"] = "auto",
        flat_max: int = 50_000,
        rrf_k: int = 60,
        bm25_weight: float = 0.5,
        collection_encoders: dict[str, Encoder] | None = None,
    ) -> None:
        self.encoder = encoder
        # A collection may use its own encoder (e.g. a multilingual-weighted one for the KB).
        self.collection_encoders = dict(collection_encoders or {})
        self.session_factory = session_factory
        self.snapshot_dir = snapshot_dir
        self.index_kind = index_kind
        self.flat_max = flat_max
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self._sources: dict[str, ItemSource] = {}
        self._collections: dict[tuple[str, str], Collection] = {}
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        # Change number each collection's snapshot on disk holds: a catch-up past it means a save is due.
        self._saved_seq: dict[tuple[str, str], int] = {}
        self._lock = threading.RLock()

    # -- wiring -----------------------------------------------------------------
    def register_source(self, collection: str, source: ItemSource) -> None:
        self._sources[collection] = source

    def encoder_for(self, collection: str | None) -> Encoder:
        return self.collection_encoders.get(collection or "", self.encoder)

    def new_collection(self, name: str | None = None) -> Collection:
        return Collection(
            encoder=self.encoder_for(name), kind="flat", rrf_k=self.rrf_k, bm25_weight=self.bm25_weight
        )

    def encode_query(self, text: str, collection: str | None = None) -> np.ndarray:
        return self.encoder_for(collection).encode([text], kind="query")[0]

    # -- loading ----------------------------------------------------------------
    def collection(self, tenant_id: str, name: str) -> Collection:
        key = (tenant_id, name)
        with self._lock:
            found = self._collections.get(key)
            if found is not None:
                return found
            loading = self._loading.setdefault(key, threading.Lock())
        # Loading can take seconds and touches the database: hold only this collection's lock,
        # so searches of other collections (and other tenants) go on meanwhile.
        with loading:
            with self._lock:
                found = self._collections.get(key)
            if found is None:
                found = self._open(tenant_id, name)
                with self._lock:
                    found = self._collections.setdefault(key, found)
            return found

    def loaded(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._collections)

    def _snapshot_paths(self, tenant_id: str, name: str) -> tuple[Path, Path] | None:
        if self.snapshot_dir is None:
            return None
        folder = self.snapshot_dir / tenant_id / name
        return folder / "vectors.faiss", folder / "meta.json"

    def _open(self, tenant_id: str, name: str) -> Collection:
        collection = self.new_collection(name)
        if self.session_factory is None or name not in self._sources:
            return collection
        try:
            if self._load_snapshot(collection, tenant_id, name):
                self.catch_up(tenant_id, name, collection)
                if self._consistent(collection, tenant_id, name):
                    return collection
                log.warning("index %s/%s disagrees with the database; rebuilding", tenant_id, name)
        except (IndexMismatchError, SnapshotCorruptError) as exc:
            log.warning("%s; rebuilding from the database", exc)
        except Exception:  # a torn or corrupt snapshot must never stop the service
            log.exception("snapshot of %s/%s unreadable; rebuilding from the database", tenant_id, name)
        return self.rebuild(tenant_id, name)

    def _load_snapshot(self, collection: Collection, tenant_id: str, name: str) -> bool:
        paths = self._snapshot_paths(tenant_id, name)
        if paths is None or not paths[0].exists() or not paths[1].exists():
            return False
        meta = json.loads(paths[1].read_text(encoding="utf-8"))
        encoder = self.encoder_for(name)
        if meta.get("encoder") != encoder.name or meta.get("dim") != encoder.dim:
            raise IndexMismatchError(
                f"index {tenant_id}/{name} was built with {meta.get('encoder')!r}, "
                f"the service is configured with {encoder.name!r}"
            )
        index = FaissIndex.load(paths[0], kind=meta.get("kind", "flat"), sha256=meta.get("sha256"))
        assert self.session_factory is not None
        with self.session_factory() as session:
            # A snapshot from the future (the database was restored from an older backup) would skip
            # every change numbered up to its own: those items would never be indexed.
            if int(meta["last_seq"]) > self._max_seq(session, tenant_id, name):
                raise IndexMismatchError(
                    f"index {tenant_id}/{name} holds change {meta['last_seq']}, the database only "
                    f"{self._max_seq(session, tenant_id, name)} (restored from a backup?)"
                )
            items = self._sources[name].load(session, tenant_id=tenant_id, item_ids=None, with_vectors=False)
        known = {i.item_id for i in items}
        with collection.lock:
            collection.index = index
            collection.kind = index.kind
            collection.set_items(items)
            collection.last_seq = int(meta["last_seq"])
        self._saved_seq[(tenant_id, name)] = collection.last_seq
        # Items written after the snapshot are re-applied by the change-log catch-up.
        return index.count() <= len(known) + self._pending_count(tenant_id, name, collection.last_seq)

    def _pending_count(self, tenant_id: str, name: str, after_seq: int) -> int:
        assert self.session_factory is not None
        with self.session_factory() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(ChangeLog)
                    .where(
                        ChangeLog.tenant_id == tenant_id,
                        ChangeLog.collection == name,
                        ChangeLog.seq > after_seq,
                    )
                )
                or 0
            )

    def _consistent(self, collection: Collection, tenant_id: str, name: str) -> bool:
        return collection.index.count() == len(collection.items)

    def _max_seq(self, session: Session, tenant_id: str, name: str) -> int:
        return int(
            session.scalar(
                select(func.max(ChangeLog.seq)).where(
                    ChangeLog.tenant_id == tenant_id, ChangeLog.collection == name
                )
            )
            or 0
        )

    def _vectors_for(
        self, name: str, items: Sequence[IndexedItem], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, dict[int, bytes]]:
        """Stored vectors where they match the model; only the rest is encoded (returned to store back)."""
        encoder = self.encoder_for(name)
        dim = encoder.dim
        out = np.zeros((len(items), dim), dtype=np.float32)
        missing: list[int] = []
        for row, item in enumerate(items):
            if item.vector is not None and item.encoder == encoder.name and len(item.vector) == dim * 4:
                out[row] = np.frombuffer(item.vector, dtype=np.float32)
            else:
                missing.append(row)
        batch = 256
        fresh: dict[int, bytes] = {}
        for start in range(0, len(missing), batch):
            rows = missing[start : start + batch]
            vectors = encoder.encode([items[r].text for r in rows], kind="passage")
            for r, v in zip(rows, vectors, strict=True):
                out[r] = v
                fresh[items[r].item_id] = v.astype(np.float32).tobytes()
            if progress:
                progress(len(rows))
        return out, fresh

    def _store_vectors(self, tenant_id: str, name: str, fresh: dict[int, bytes]) -> None:
        """Best effort, in its own short transaction: the vectors only save re-encoding later.

        Never while a read transaction is open, and never waiting long for SQLite's write lock:
        a request that holds it may itself be waiting for this index.
        """
        if not fresh or self.session_factory is None:
            return
        try:
            with self.session_factory() as session, session.begin():
                sqlite = session.get_bind().dialect.name == "sqlite"
                if sqlite:
                    session.execute(text("PRAGMA busy_timeout=2000"))
                try:
                    self._sources[name].store_vectors(
                        session, tenant_id=tenant_id, vectors=fresh, encoder=self.encoder_for(name).name
                    )
                finally:
                    if sqlite:  # the connection goes back to the pool: its next user expects the usual wait
                        session.execute(text(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"))
        except OperationalError:
            log.info(
                "database busy; %d vectors of %s/%s will be stored next time", len(fresh), tenant_id, name
            )

    def _choose_kind(self, n: int) -> IndexKind:
        if self.index_kind in ("flat", "ivf"):
            return self.index_kind  # type: ignore[return-value]
        return "flat" if n <= self.flat_max else "ivf"

    def build(self, name: str | None, items: Sequence[IndexedItem], vectors: np.ndarray) -> Collection:
        """A collection over these items, exact (flat) or IVF by size as configured."""
        collection = self.new_collection(name)
        kind = self._choose_kind(len(items))
        if kind == "ivf" and len(items):
            collection.index = FaissIndex(collection.encoder.dim, "ivf", train_vectors=vectors)
        collection.kind = kind
        collection.apply(items, vectors, [])
        return collection

    def rebuild(self, tenant_id: str, name: str, progress: Callable[[int], None] | None = None) -> Collection:
        """Re-reads every item from the database; encodes only those without a matching stored vector."""
        assert self.session_factory is not None
        with self.session_factory() as session, session.begin():
            last_seq = self._max_seq(session, tenant_id, name)
            items = self._sources[name].load(session, tenant_id=tenant_id, item_ids=None, with_vectors=True)
        vectors, fresh = self._vectors_for(name, items, progress)
        self._store_vectors(tenant_id, name, fresh)
        collection = self.build(name, items, vectors)
        collection.last_seq = last_seq
        with self._lock:
            self._collections[(tenant_id, name)] = collection
        self.save(tenant_id, name)
        return collection

    # -- keeping up -------------------------------------------------------------
    def catch_up(self, tenant_id: str, name: str, collection: Collection | None = None) -> int:
        """Replays change-log rows after the collection's last sequence number; returns how many."""
        if self.session_factory is None or name not in self._sources:
            return 0
        # Not `collection or ...`: an empty Collection is falsy (__len__), and re-entering collection()
        # while _open holds this collection's load lock would wait on itself forever.
        if collection is None:
            collection = self.collection(tenant_id, name)
        with self.session_factory() as session, session.begin():
            rows = session.execute(
                select(ChangeLog.seq, ChangeLog.item_id, ChangeLog.op)
                .where(
                    ChangeLog.tenant_id == tenant_id,
                    ChangeLog.collection == name,
                    ChangeLog.seq > collection.last_seq,
                )
                .order_by(ChangeLog.seq)
            ).all()
            if not rows:
                return 0
            last_op: dict[int, str] = {}
            for _, item_id, op in rows:
                last_op[item_id] = op
            upsert_ids = [i for i, op in last_op.items() if op == "upsert"]
            items = []
            for start in range(0, len(upsert_ids), 5000):  # stay under the driver's bound-parameter limit
                items += self._sources[name].load(
                    session, tenant_id=tenant_id, item_ids=upsert_ids[start : start + 5000], with_vectors=True
                )
            found = {i.item_id for i in items}
            # An upsert whose row is gone was deleted later in the same window.
            deletes = [i for i, op in last_op.items() if op == "delete" or i not in found]
        vectors, fresh = self._vectors_for(name, items) if items else (None, {})
        self._store_vectors(tenant_id, name, fresh)
        collection.apply(items, vectors, deletes)
        collection.last_seq = rows[-1][0]
        return len(rows)

    def sync_all(self) -> int:
        """Catches every loaded collection up and snapshots those whose snapshot is behind."""
        changed = 0
        for tenant_id, name in self.loaded():
            applied = self.catch_up(tenant_id, name)
            collection = self.collection(tenant_id, name)
            if collection.index.kind != self._choose_kind(len(collection)) == "ivf":
                # Grown past the exact-search size: retrain as IVF once, off the request path.
                self.rebuild(tenant_id, name)
                continue
            # Not only when this pass applied rows: a search may have caught the collection up on demand.
            behind = collection.last_seq != self._saved_seq.get((tenant_id, name))
            if behind and self.snapshot_dir is not None:
                self.save(tenant_id, name)
            changed += applied
        return changed

    def is_caught_up(self) -> bool:
        if self.session_factory is None:
            return True
        with self.session_factory() as session:
            for tenant_id, name in self.loaded():
                if self._max_seq(session, tenant_id, name) > self.collection(tenant_id, name).last_seq:
                    return False
        return True

    def save(self, tenant_id: str, name: str) -> None:
        paths = self._snapshot_paths(tenant_id, name)
        if paths is None:
            return
        collection = self.collection(tenant_id, name)
        with collection.lock:
            saved_seq = collection.last_seq
            sha256 = collection.index.save(paths[0])
            write_json_atomic(
                paths[1],
                {
                    "format": SNAPSHOT_FORMAT,
                    "encoder": collection.encoder.name,
                    "encoder_version": collection.encoder.version,
                    "dim": collection.encoder.dim,
                    "kind": collection.index.kind,
                    "count": collection.index.count(),
                    "last_seq": saved_seq,
                    "sha256": sha256,
                    "built_at": time.time(),
                },
            )
        self._saved_seq[(tenant_id, name)] = saved_seq

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            for key in list(self._collections):
                if tenant_id is None or key[0] == tenant_id:
                    del self._collections[key]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {f"{t}/{n}": len(c) for (t, n), c in self._collections.items()}
