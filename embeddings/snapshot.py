"""A collection's vectors on disk: one index file plus a metadata file, written atomically.

The metadata records the encoder, its dimension, the index layout and the change number the
snapshot holds; `load_snapshot` refuses a snapshot built by another model instead of serving
vectors from the wrong space.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.collection import Collection
from embeddings.encoder import Encoder
from embeddings.index import IndexBackend, VectorIndex, load_index, write_json_atomic

SNAPSHOT_FORMAT = 2


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SnapshotMismatchError(Exception):
    """The snapshot on disk was built with another encoder or dimension."""


@dataclass(frozen=True)
class SnapshotPaths:
    vectors: Path
    meta: Path

    @classmethod
    def under(cls, folder: Path) -> SnapshotPaths:
        return cls(folder / "vectors.faiss", folder / "meta.json")

    def exist(self) -> bool:
        return self.vectors.exists() and self.meta.exists()


@dataclass(frozen=True)
class Snapshot:
    index: VectorIndex
    last_seq: int
    meta: dict[str, Any]


def save_snapshot(paths: SnapshotPaths, collection: Collection, *, last_seq: int) -> None:
    """Index file first, metadata last: a crash in between leaves the old metadata, which a load
    then finds inconsistent with the index count and rebuilds."""
    with collection.lock:
        collection.index.save(paths.vectors)
        # A flipped or overwritten block inside the vector file still loads (as NaN vectors that
        # match nothing): only a checksum tells, so a damaged snapshot is rebuilt, not served.
        checksum = file_sha256(paths.vectors)
        write_json_atomic(
            paths.meta,
            {
                "format": SNAPSHOT_FORMAT,
                "backend": collection.backend,
                "encoder": collection.encoder.name,
                "encoder_version": collection.encoder.version,
                "dim": collection.encoder.dim,
                "kind": collection.index.kind,
                "count": collection.index.count(),
                "last_seq": last_seq,
                "sha256": checksum,
                "built_at": time.time(),
            },
        )


def load_snapshot(paths: SnapshotPaths, *, encoder: Encoder, backend: IndexBackend) -> Snapshot:
    meta = json.loads(paths.meta.read_text(encoding="utf-8"))
    if meta.get("encoder") != encoder.name or meta.get("dim") != encoder.dim:
        raise SnapshotMismatchError(
            f"snapshot {paths.meta.parent} was built with {meta.get('encoder')!r}, "
            f"the service is configured with {encoder.name!r}"
        )
    if meta.get("backend", "faiss") != backend:
        raise SnapshotMismatchError(f"snapshot {paths.meta.parent} holds a {meta.get('backend')!r} index")
    if meta.get("format") != SNAPSHOT_FORMAT or meta.get("sha256") != file_sha256(paths.vectors):
        raise SnapshotMismatchError(f"snapshot {paths.meta.parent}: vector file fails its checksum")
    index = load_index(backend, paths.vectors, kind=meta.get("kind", "flat"))
    if index.count() != int(meta.get("count", index.count())):
        raise SnapshotMismatchError(f"snapshot {paths.meta.parent}: index count disagrees with its metadata")
    return Snapshot(index=index, last_seq=int(meta["last_seq"]), meta=meta)
