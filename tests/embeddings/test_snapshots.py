"""Snapshots are trusted only when their checksum matches and their change number is within the database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import delete

from api.app import create_app
from core.models import ChangeLog
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.factories import article, load_articles
from tests.support.encoders import hashing_encoders

ARTICLES = [
    article(id=f"kb-{i}", title=f"Topic {i} {word}", body=f"All about {word} number {i}.", tags=["other"])
    for i, word in enumerate(
        ["parcel", "refund", "return", "invoice", "lamp", "bookcase", "voucher", "size"] * 25
    )
]


def _saved(runtime: Runtime, tenant_id: str) -> tuple[Path, Path]:
    search = runtime.search
    search.collection(tenant_id, "articles")
    search.catch_up(tenant_id, "articles")
    search.save(tenant_id, "articles")
    folder = runtime.settings.index_dir / tenant_id / "articles"
    return folder / "vectors.faiss", folder / "meta.json"


def _reopened(runtime: Runtime, tenant_id: str) -> object:
    runtime.search.forget(tenant_id)
    return runtime.search.collection(tenant_id, "articles")


def test_a_damaged_vector_file_is_detected_and_rebuilt(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, ARTICLES)
    vectors, meta = _saved(runtime, tenant.tenant_id)
    assert json.loads(meta.read_text())["sha256"]
    size = vectors.stat().st_size
    assert size > 128 * 1024
    with open(vectors, "r+b") as handle:  # 64 KB of garbage in the middle of the vectors
        handle.seek(size // 2)
        handle.write(np.random.default_rng(0).bytes(64 * 1024))
    collection = _reopened(runtime, tenant.tenant_id)
    stored = collection.index.vectors(np.array(sorted(collection.items), dtype=np.int64))  # type: ignore[attr-defined]
    assert np.isfinite(stored).all() and np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-4)
    # Every article is still found by its own words.
    for row in ARTICLES[:8]:
        query = row["body"]
        hits = collection.search(query, runtime.search.encode_query(query, "articles"), top_k=1)  # type: ignore[attr-defined]
        assert hits[0].item.key == row["id"]
    # The rebuilt snapshot carries a checksum that matches.
    _, meta = _saved(runtime, tenant.tenant_id)
    assert json.loads(meta.read_text())["sha256"]


def test_a_snapshot_without_a_checksum_is_not_trusted(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, ARTICLES[:20])
    vectors, meta = _saved(runtime, tenant.tenant_id)
    data = json.loads(meta.read_text())
    data.pop("sha256")
    meta.write_text(json.dumps(data))
    collection = _reopened(runtime, tenant.tenant_id)
    assert len(collection) > 0  # type: ignore[arg-type]
    assert json.loads(meta.read_text()).get("sha256")  # rebuilt and saved with one


def test_a_snapshot_ahead_of_the_database_is_rebuilt_and_new_items_get_indexed(tmp_path: Path) -> None:
    """As after restoring an older database backup beside a newer index: the snapshot's change number
    is ahead, so trusting it would skip every change up to it and never index the new items."""
    settings = Settings(data_dir=tmp_path / "var", index_sync_seconds=0.2)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, "t")
    load_articles(runtime, "t", ARTICLES[:10])
    _, meta = _saved(runtime, "t")
    data = json.loads(meta.read_text())
    data["last_seq"] += 1000
    meta.write_text(json.dumps(data))
    runtime.search.forget("t")
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        created = client.post(
            "/v1/articles",
            json={"id": "kb-new", "title": "Gift wrapping", "body": "We wrap gifts in recycled paper."},
            headers=keys.headers("admin"),
        )
        assert created.status_code == 201, created.text
        runtime.search.sync_all()
        found = client.post(
            "/v1/suggest", json={"query": "gift wrapping recycled paper"}, headers=keys.headers("public")
        )
        assert "kb-new" in [s["id"] for s in found.json()["suggestions"]]
        assert client.get("/readyz").json()["index"] == "caught_up"
    runtime.close()


def test_a_database_behind_its_change_log_rows_is_caught(runtime: Runtime, tenant: TenantKeys) -> None:
    """The same check seen from the database: its change log lost rows the snapshot had applied."""
    load_articles(runtime, tenant.tenant_id, ARTICLES[:10])
    _saved(runtime, tenant.tenant_id)
    with runtime.session() as session:
        session.execute(delete(ChangeLog).where(ChangeLog.tenant_id == tenant.tenant_id))
    collection = _reopened(runtime, tenant.tenant_id)
    assert len(collection) == 10  # type: ignore[arg-type]
    assert collection.last_seq == 0  # type: ignore[attr-defined]  # rebuilt at the database's own number
