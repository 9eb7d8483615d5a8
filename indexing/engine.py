"""Keeps the in-memory search collections in step with the database, the source of truth.

Each (tenant, collection) loads its snapshot when it matches the configured model, otherwise it
is rebuilt from the database; then the change log is replayed past the snapshot's change number.
Domains plug in an `ItemSource` that turns their rows into `IndexedItem`s.

Reads never write: vectors encoded while catching up on a search request are queued and written
back to the domain tables by `flush_vectors`, which the background sync (or a CLI command) calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.db import SQLITE_BUSY_TIMEOUT_MS
from core.errors import IndexMismatchError
from core.models import ChangeLog
from embeddings.collection import Collection, IndexedItem, SearchCollection, build_collection
from embeddings.encoder import Encoder, RoutedEncoder
from embeddings.index import IndexBackend, IndexKind
from embeddings.keyword import Analysis
from embeddings.snapshot import SnapshotMismatchError, SnapshotPaths, load_snapshot, save_snapshot

log = logging.getLogger(__name__)


class ItemSource(Protocol):
    """How one domain's rows become searchable items, and where their vectors are kept."""

    def load(
        self, session: Session, *, tenant_id: str, item_ids: Sequence[int] | None, with_vectors: bool
    ) -> list[IndexedItem]: ...

    def store_vectors(
        self, session: Session, *, tenant_id: str, vectors: dict[int, bytes], encoder: str
    ) -> None: ...

    def ids(self, session: Session, *, tenant_id: str) -> list[int]: ...


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
        backend: IndexBackend = "faiss",
        sources: Mapping[str, ItemSource] | None = None,
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
        self.backend: IndexBackend = backend
        self._sources: dict[str, ItemSource] = dict(sources or {})
        # Vectors encoded on the read path, waiting for flush_vectors to write them back.
        self._pending_vectors: dict[tuple[str, str], dict[int, bytes]] = {}
        self._collections: dict[tuple[str, str], Collection] = {}
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        # Change number each collection's snapshot on disk holds: a catch-up past it means a save is due.
        self._saved_seq: dict[tuple[str, str], int] = {}
        self._lock = threading.RLock()

    # -- wiring -----------------------------------------------------------------
    def encoder_for(self, collection: str | None) -> Encoder:
        return self.collection_encoders.get(collection or "", self.encoder)

    def analysis_for(self, collection: str | None) -> Analysis:
        """Articles are analysed per language (stemmed); tickets keep the plain analysis their duplicate
        and label scores were tuned with."""
        return "stemmed" if collection == "articles" else "plain"

    def new_collection(self, name: str | None = None) -> Collection:
        return Collection(
            encoder=self.encoder_for(name),
            rrf_k=self.rrf_k,
            bm25_weight=self.bm25_weight,
            backend=self.backend,
            analysis=self.analysis_for(name),
        )

    def encode_query(self, text: str, collection: str | None = None) -> np.ndarray:
        vector: np.ndarray = self.encoder_for(collection).encode([text], kind="query")[0]
        return vector

    def prepare_queries(self, texts: Sequence[str], collection: str | None = None) -> None:
        """Encodes several queries in one pass per model, so the searches that follow find their vectors
        cached: a draft searches once per question, and a short text costs a model about as much alone
        as in a batch of three (e5 14 ms for one, 12-16 ms for three)."""
        wanted = list(dict.fromkeys(t for t in texts if t))
        if len(wanted) < 2:
            return
        encoder = self.encoder_for(collection)
        if isinstance(encoder, RoutedEncoder):
            encoder.part_vectors(wanted)
        else:
            encoder.encode(wanted, kind="query")

    # -- loading ----------------------------------------------------------------
    def collection(self, tenant_id: str, name: str) -> SearchCollection:
        """The tenant's collection, loaded (snapshot, then change log) on first use."""
        return self.memory_collection(tenant_id, name)

    def memory_collection(self, tenant_id: str, name: str) -> Collection:
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

    def _snapshot_paths(self, tenant_id: str, name: str) -> SnapshotPaths | None:
        if self.snapshot_dir is None:
            return None
        return SnapshotPaths.under(self.snapshot_dir / tenant_id / name)

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
        except (IndexMismatchError, SnapshotMismatchError) as exc:
            log.warning("%s; rebuilding from the database", exc)
        except Exception:  # a torn or corrupt snapshot must never stop the service
            log.exception("snapshot of %s/%s unreadable; rebuilding from the database", tenant_id, name)
        return self.rebuild_memory(tenant_id, name)

    def _load_snapshot(self, collection: Collection, tenant_id: str, name: str) -> bool:
        paths = self._snapshot_paths(tenant_id, name)
        if paths is None or not paths.exist():
            return False
        snapshot = load_snapshot(paths, encoder=self.encoder_for(name), backend=self.backend)
        index = snapshot.index
        assert self.session_factory is not None
        with self.session_factory() as session:
            newest = self._max_seq(session, tenant_id, name)
            if snapshot.last_seq > newest:
                # Restored from an older database backup: changes the snapshot claims to hold never
                # happened here, and trusting it would skip every change up to that number.
                raise IndexMismatchError(
                    f"snapshot {tenant_id}/{name} holds change {snapshot.last_seq}, "
                    f"the database only reaches {newest}"
                )
            items = self._sources[name].load(session, tenant_id=tenant_id, item_ids=None, with_vectors=False)
        known = {i.item_id for i in items}
        with collection.lock:
            collection.index = index
            collection.set_items(items)
            collection.last_seq = snapshot.last_seq
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

    def _queue_vectors(self, tenant_id: str, name: str, fresh: dict[int, bytes]) -> None:
        if fresh:
            with self._lock:
                self._pending_vectors.setdefault((tenant_id, name), {}).update(fresh)

    def flush_vectors(self) -> int:
        """Writes queued vectors back to their domain tables; returns how many were written.

        Called off the request path (sync loop, CLI), so a search never opens a write transaction.
        """
        with self._lock:
            pending, self._pending_vectors = self._pending_vectors, {}
        written = 0
        for (tenant_id, name), fresh in pending.items():
            if self._store_vectors(tenant_id, name, fresh):
                written += len(fresh)
            else:
                self._queue_vectors(tenant_id, name, fresh)
        return written

    def _store_vectors(self, tenant_id: str, name: str, fresh: dict[int, bytes]) -> bool:
        """Best effort, in its own short transaction: the vectors only save re-encoding later.

        Never while a read transaction is open, and never waiting long for SQLite's write lock:
        a request that holds it may itself be waiting for this index.
        """
        if not fresh or self.session_factory is None or name not in self._sources:
            return True
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
            return False
        return True

    def _choose_kind(self, n: int) -> IndexKind:
        if self.index_kind in ("flat", "ivf"):
            return self.index_kind
        return "flat" if n <= self.flat_max else "ivf"

    def build(self, name: str | None, items: Sequence[IndexedItem], vectors: np.ndarray) -> Collection:
        """A collection over these items, exact (flat) or IVF by size as configured."""
        return build_collection(
            encoder=self.encoder_for(name),
            items=items,
            vectors=vectors,
            kind=self._choose_kind(len(items)),
            rrf_k=self.rrf_k,
            bm25_weight=self.bm25_weight,
            backend=self.backend,
            analysis=self.analysis_for(name),
        )

    def rebuild(
        self, tenant_id: str, name: str, progress: Callable[[int], None] | None = None
    ) -> SearchCollection:
        """Re-reads every item from the database; encodes only those without a matching stored vector."""
        return self.rebuild_memory(tenant_id, name, progress)

    def rebuild_memory(
        self, tenant_id: str, name: str, progress: Callable[[int], None] | None = None
    ) -> Collection:
        """`rebuild` into this process's memory (and snapshot), whatever the engine's own store."""
        assert self.session_factory is not None
        with self.session_factory() as session, session.begin():
            last_seq = self._max_seq(session, tenant_id, name)
            items = self._sources[name].load(session, tenant_id=tenant_id, item_ids=None, with_vectors=True)
        vectors, fresh = self._vectors_for(name, items, progress)
        self._queue_vectors(tenant_id, name, fresh)
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
            collection = self.memory_collection(tenant_id, name)
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
        self._queue_vectors(tenant_id, name, fresh)
        collection.apply(items, vectors, deletes)
        collection.last_seq = rows[-1][0]
        return len(rows)

    def sync_all(self) -> int:
        """Catches every loaded collection up and snapshots those whose snapshot is behind."""
        changed = 0
        for tenant_id, name in self.loaded():
            applied = self.catch_up(tenant_id, name)
            collection = self.memory_collection(tenant_id, name)
            if collection.index.kind != self._choose_kind(len(collection)) == "ivf":
                # Grown past the exact-search size: retrain as IVF once, off the request path.
                self.rebuild_memory(tenant_id, name)
                continue
            # Not only when this pass applied rows: a search may have caught the collection up on demand.
            behind = collection.last_seq != self._saved_seq.get((tenant_id, name))
            if behind and self.snapshot_dir is not None:
                self.save(tenant_id, name)
            changed += applied
        self.flush_vectors()
        return changed

    def is_caught_up(self) -> bool:
        if self.session_factory is None:
            return True
        with self.session_factory() as session:
            for tenant_id, name in self.loaded():
                if self._max_seq(session, tenant_id, name) > self.memory_collection(tenant_id, name).last_seq:
                    return False
        return True

    def save(self, tenant_id: str, name: str) -> None:
        """Snapshots the collection and writes queued vectors back (never on a request's path)."""
        self.flush_vectors()
        paths = self._snapshot_paths(tenant_id, name)
        if paths is None:
            return
        collection = self.memory_collection(tenant_id, name)
        with collection.lock:
            saved_seq = collection.last_seq
            save_snapshot(paths, collection, last_seq=saved_seq)
        self._saved_seq[(tenant_id, name)] = saved_seq

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            for key in list(self._collections):
                if tenant_id is None or key[0] == tenant_id:
                    del self._collections[key]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {f"{t}/{n}": len(c) for (t, n), c in self._collections.items()}
