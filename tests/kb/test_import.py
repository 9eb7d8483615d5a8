from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import ImportFileError
from kb import service
from kb.models import Article, ArticleChunk
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.factories import SHOP_ARTICLES, article, load_articles, write_jsonl


def _count(runtime: Runtime, model: type) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_bad_line_rejects_whole_file_with_file_line_and_reason(
    runtime: Runtime, tenant: TenantKeys, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "articles.jsonl", [article(), "{not json", article(id="kb-2", title="")])
    with pytest.raises(ImportFileError) as caught, runtime.session() as session:
        service.import_path(session, tenant_id=tenant.tenant_id, path=path)
    lines = {(e.line, e.file) for e in caught.value.errors}
    assert lines == {(2, str(path)), (3, str(path))}
    assert "invalid JSON" in caught.value.errors[0].reason
    assert "title" in caught.value.errors[1].reason
    assert _count(runtime, Article) == 0 and _count(runtime, ArticleChunk) == 0


def test_duplicate_ids_in_one_file_are_reported(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article(), article()])
    with pytest.raises(ImportFileError, match="duplicate id"):
        service.parse_articles_jsonl(path)


def test_reimport_is_idempotent_and_only_changed_chunks_are_reembedded(
    runtime: Runtime, tenant: TenantKeys, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", SHOP_ARTICLES)
    with runtime.session() as session:
        first = service.import_path(session, tenant_id=tenant.tenant_id, path=path)
    runtime.search.catch_up(tenant.tenant_id, "articles")
    with runtime.session() as session:
        again = service.import_path(session, tenant_id=tenant.tenant_id, path=path)
    assert (first.created, again.created, again.updated, again.unchanged) == (6, 0, 0, 6)

    with runtime.session() as session:
        fjord = service.get(session, tenant_id=tenant.tenant_id, external_id="kb-fjord")
        vectors_before = {c.content_hash: c.embedding for c in fjord.chunks}
        new_body = fjord.body.replace("Attach the side panels, then the shelves.", "Fix the back panel last.")
    changed = [dict(a, body=new_body) if a["id"] == "kb-fjord" else a for a in SHOP_ARTICLES]
    with runtime.session() as session:
        report = service.import_path(session, tenant_id=tenant.tenant_id, path=write_jsonl(path, changed))
    assert report.updated == 1
    runtime.search.catch_up(tenant.tenant_id, "articles")
    # Catching up on a search never writes; the sync loop (or a CLI command) stores the vectors.
    runtime.search.flush_vectors()
    with runtime.session() as session:
        chunks = service.get(session, tenant_id=tenant.tenant_id, external_id="kb-fjord").chunks
        kept = [c for c in chunks if c.content_hash in vectors_before]
        assert len(kept) == len(chunks) - 1
        assert all(c.embedding == vectors_before[c.content_hash] for c in kept)
        assert all(c.embedding is not None for c in chunks)


def test_markdown_folder_with_front_matter(runtime: Runtime, tenant: TenantKeys, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "warranty.md").write_text(
        "---\nchannels: [shopify]\ntags: [other]\nlocale: en\n---\n# Our 2-year warranty\n\nEvery lamp is "
        "covered.\n",
        encoding="utf-8",
    )
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="broken.md"), runtime.session() as session:
        service.import_path(session, tenant_id=tenant.tenant_id, path=folder)
    (folder / "broken.md").unlink()
    with runtime.session() as session:
        service.import_path(session, tenant_id=tenant.tenant_id, path=folder)
        stored = service.get(session, tenant_id=tenant.tenant_id, external_id="warranty")
        assert stored.title == "Our 2-year warranty" and stored.channels == ["shopify"]
        assert "Every lamp is covered." in stored.body


def test_delete_removes_article_from_the_index(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    collection = runtime.search.collection(tenant.tenant_id, "articles")
    assert any(item.key == "kb-fjord" for item in collection.items.values())
    with runtime.session() as session:
        service.delete(session, tenant_id=tenant.tenant_id, external_id="kb-fjord")
    runtime.search.catch_up(tenant.tenant_id, "articles")
    assert not any(item.key == "kb-fjord" for item in collection.items.values())
    hits = collection.search("Fjord bookcase screwdriver", None, top_k=10, mode="bm25")
    assert all(h.item.key != "kb-fjord" for h in hits)
