"""Keyword and hybrid suggestion quality, pgvector (PostgreSQL full-text search) beside FAISS + bm25s, on
the demo shop's 242 labelled queries; slow (prints the table; asserts only that neither collapses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import ROOT, Settings
from kb import service as kb_service
from kb.suggest import suggest
from runtime import Runtime

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _recall(runtime: Runtime, mode: str) -> dict[str, float]:
    queries = [json.loads(line) for line in (ROOT / "demo" / "queries.jsonl").read_text().splitlines()]
    queries = [q for q in queries if q["relevant"]]
    hits = {1: 0, 3: 0}
    with runtime.session() as session:
        for q in queries:
            result = suggest(
                session,
                runtime.search,
                tenant_id="demo",
                query=q["text"],
                channel=q.get("channel"),
                locale=q.get("locale"),
                top_k=3,
                threshold=-1.0,
                mode=mode,  # type: ignore[arg-type]
            )
            ids = [s.id for s in result.suggestions]
            for k in hits:
                hits[k] += bool(set(ids[:k]) & set(q["relevant"]))
    return {f"recall@{k}": round(v / len(queries), 3) for k, v in hits.items()}


def test_keyword_and_hybrid_quality_on_both_backends(pgvector_url: str, tmp_path: Path) -> None:
    table = {}
    for backend, url in (("faiss+bm25s", None), ("pgvector+fts", pgvector_url)):
        settings = Settings(data_dir=tmp_path / backend, database_url=url, encoder="minilm")
        runtime = Runtime(settings)
        runtime.migrate()
        with runtime.session() as session:
            kb_service.import_articles(
                session,
                tenant_id="demo",
                articles=kb_service.parse_articles_jsonl(ROOT / "demo" / "articles.jsonl"),
                file="demo",
            )
        runtime.search.catch_up("demo", "articles")
        table[backend] = {mode: _recall(runtime, mode) for mode in ("bm25", "hybrid", "dense")}
        runtime.close()
    print(json.dumps(table, indent=2))
    for mode in ("bm25", "hybrid"):
        assert table["pgvector+fts"][mode]["recall@3"] >= table["faiss+bm25s"][mode]["recall@3"] - 0.15
