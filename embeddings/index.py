"""Vector index interface and its FAISS implementation.

The interface stays narrow (add, remove, search with an id filter, count, save, load) so a
pgvector or OpenSearch k-NN backend is a new class, not a rewrite.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, Protocol

import faiss
import numpy as np

IndexKind = Literal["flat", "ivf"]

# The service searches one query per request and gets its parallelism from concurrent requests;
# OpenMP threads on top oversubscribe the cores (measured: an exact 10k search went from 6.9 ms
# to 68 ms under load, and 100k from 17 ms to 23 ms even when idle).
faiss.omp_set_num_threads(1)


class VectorIndex(Protocol):
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def count(self) -> int: ...

    def save(self, path: Path) -> None: ...


def _ivf_lists(n: int) -> int:
    # FAISS wants >= 39 training points per list; 4*sqrt(n) is its usual rule of thumb.
    return max(1, min(int(4 * np.sqrt(max(n, 1))), n // 39 or 1))


def _selector(allowed_ids: np.ndarray) -> Any:
    """A bitmap over the id range when ids are dense (database keys usually are): O(1) per test
    and cheap to build; FAISS's batch selector builds a hash set per query instead."""
    top = int(allowed_ids.max()) + 1
    if top <= 64 * len(allowed_ids) + 1_000_000:
        bits = np.zeros(top, dtype=bool)
        bits[allowed_ids] = True
        packed = np.packbits(bits, bitorder="little")
        selector = faiss.IDSelectorBitmap(top, faiss.swig_ptr(packed))
        selector.referenced_bitmap = packed  # FAISS keeps a raw pointer: keep the buffer alive
        return selector
    return faiss.IDSelectorBatch(allowed_ids)


class FaissIndex:
    """Cosine search over normalised vectors: FAISS inner product on IDMap2(flat) or IVF-flat."""

    def __init__(
        self,
        dim: int,
        kind: IndexKind = "flat",
        *,
        train_vectors: np.ndarray | None = None,
        nprobe: int = 16,
        _index: Any = None,
    ) -> None:
        self.dim = dim
        self.kind = kind
        self.nprobe = nprobe
        self._selectors: dict[bytes, Any] = {}
        if _index is not None:
            self._index = _index
        elif kind == "flat":
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        else:
            if train_vectors is None or len(train_vectors) == 0:
                raise ValueError("an IVF index needs training vectors")
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(
                quantizer, dim, _ivf_lists(len(train_vectors)), faiss.METRIC_INNER_PRODUCT
            )
            ivf.train(np.ascontiguousarray(train_vectors, dtype=np.float32))
            # A hash-table direct map lets stored vectors be read back by id (and still removed).
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            self._index = ivf

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.asarray(ids, dtype=np.int64)
        self.remove(ids)  # re-adding an id replaces it instead of duplicating it
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            # IVF's hash-table direct map only accepts an array selector; the flat map takes either.
            self._index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; the id filter is applied inside FAISS, before top-k."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, self.count() or 1))
        selector = None
        if allowed_ids is not None:
            if len(allowed_ids) == 0:
                return np.full((len(queries), 0), -1.0, dtype=np.float32), np.zeros(
                    (len(queries), 0), np.int64
                )
            selector = self._cached_selector(np.ascontiguousarray(allowed_ids, dtype=np.int64))
        if self.kind == "ivf":
            nprobe = self.nprobe
            if allowed_ids is not None and len(allowed_ids) < 0.2 * self.count():
                # A selective filter's few allowed vectors may sit in lists a normal probe skips.
                nprobe = int(self._index.nlist)
            params: Any = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def _cached_selector(self, allowed_ids: np.ndarray) -> Any:
        """The same filter (say, one channel's items) repeats on every search until the items change;
        hashing the ids is ~50x cheaper than building the selector again."""
        key = hashlib.blake2b(allowed_ids.tobytes(), digest_size=16).digest()
        selector = self._selectors.get(key)
        if selector is None:
            selector = _selector(allowed_ids)
            if len(self._selectors) >= 32:
                self._selectors.pop(next(iter(self._selectors)))
        else:
            del self._selectors[key]  # re-insert below: most recently used last
        self._selectors[key] = selector
        return selector

    def count(self) -> int:
        return int(self._index.ntotal)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, in order."""
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)), dtype=np.float32)

    def save(self, path: Path) -> str:
        """Atomic: write a temp file, fsync it, then rename over the old snapshot. Returns the file's
        SHA-256, for the metadata that `load` checks it against."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp)
            digest = file_sha256(Path(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return digest

    @classmethod
    def load(cls, path: Path, *, kind: IndexKind, sha256: str | None, nprobe: int = 16) -> FaissIndex:
        """Reads a snapshot after checking its SHA-256; SnapshotCorruptError when it has none or another.

        FAISS reads a damaged file without complaint (overwritten vectors load as NaN and those items
        are never found again), so the checksum is the only line of defence.
        """
        if not sha256:
            raise SnapshotCorruptError(f"snapshot {path} records no checksum")
        actual = file_sha256(path)
        if actual != sha256:
            raise SnapshotCorruptError(
                f"snapshot {path} is damaged: SHA-256 {actual[:12]}… != {sha256[:12]}…"
            )
        raw = faiss.read_index(str(path))
        return cls(raw.d, kind, nprobe=nprobe, _index=raw)


class SnapshotCorruptError(ValueError):
    """A snapshot file that does not match its recorded checksum: rebuild from the source of truth."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
