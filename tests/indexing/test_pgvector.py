"""The pgvector backend on a real PostgreSQL 18 + pgvector 0.8 (tests/pg.py): writes visible to every
replica at commit, filters in SQL that never empty the top-k, per-language keyword search, the model
and dimension check, and the same answers as the in-process FAISS index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text

from core.errors import IndexMismatchError
from core.models import ChangeLog
from core.settings import Settings
from embeddings.collection import IndexedItem, SearchFilter, build_collection
from history.duplicates import duplicates_of
from indexing.pgsearch import PgCollection, PgSearchEngine, write_rows
from kb import service as kb_service
from kb.schemas import ArticleCreate, ArticleUpdate
from runtime import Runtime
from tests.history.helpers import ingest, ticket
from tests.support.encoders import HashingEncoder, hashing_encoders

pytestmark = pytest.mark.postgres


def _settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        default_abstain_threshold=0.1,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def replicas(pgvector_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two processes' worth of runtime on one database, each with its own (unused) data dir."""
    first = Runtime(_settings(pgvector_url, tmp_path / "one"), encoders=hashing_encoders)
    first.migrate()
    second = Runtime(_settings(pgvector_url, tmp_path / "two"), encoders=hashing_encoders)
    yield first, second
    first.close()
    second.close()


def _article(article_id: str, body: str, **extra: object) -> ArticleCreate:
    return ArticleCreate.model_validate({"id": article_id, "title": article_id, "body": body, **extra})


def _keys(collection: object, query: str, **kwargs: object) -> list[str]:
    assert isinstance(collection, PgCollection)
    vector = collection.engine.encode_query(query, collection.name)
    return [h.item.key for h in collection.search(query, vector, top_k=10, **kwargs)]  # type: ignore[arg-type]


def test_backend_defaults_to_pgvector_on_postgresql(replicas: tuple[Runtime, Runtime]) -> None:
    first, _ = replicas
    assert first.settings.resolved_vector_backend == "pgvector"
    assert isinstance(first.search, PgSearchEngine)
    assert Settings(data_dir=Path("/tmp/x")).resolved_vector_backend == "faiss"
    with pytest.raises(ValueError, match="needs a postgresql"):
        Settings(data_dir=Path("/tmp/x"), vector_backend="pgvector")


def test_a_write_is_visible_to_another_replica_at_commit(replicas: tuple[Runtime, Runtime]) -> None:
    writer, reader = replicas
    articles = reader.search.collection("shop", "articles")
    assert _keys(articles, "zebra crossing delivery") == []
    with writer.session() as session:
        kb_service.upsert(
            session, tenant_id="shop", article_in=_article("kb-zebra", "Zebra crossing delivery times")
        )
        session.flush()
        # Not yet committed: the other replica must not see it (nor ever, if this rolled back).
        assert _keys(articles, "zebra crossing delivery") == []
    # Committed: found at once, with no sync loop, no change log and no snapshot.
    assert _keys(articles, "zebra crossing delivery") == ["kb-zebra"]
    with writer.session() as session:
        kb_service.update(
            session,
            tenant_id="shop",
            external_id="kb-zebra",
            article_up=ArticleUpdate(body="Giraffe parking rules", channels=["amazon"]),
        )
    assert _keys(articles, "giraffe parking") == ["kb-zebra"]
    assert _keys(articles, "giraffe parking", flt=SearchFilter(channels=("ebay",))) == []
    with writer.session() as session:
        kb_service.delete(session, tenant_id="shop", external_id="kb-zebra")
    assert _keys(articles, "giraffe parking") == []

    ingest(writer, "shop", ticket("t-1", "Where is my parcel? Tracking has not moved for days."), check=False)
    with reader.session() as session:
        _, found = duplicates_of(
            session,
            reader.search,
            tenant_id="shop",
            ticket_id="t-1",
            window_days=14,
            min_score=-1.0,
        )
    assert found == []  # the reader sees t-1 itself (else duplicates_of would raise) and nothing else
    ingest(writer, "shop", ticket("t-2", "My parcel is lost, where is it?"), check=False)
    with reader.session() as session:
        _, found = duplicates_of(
            session, reader.search, tenant_id="shop", ticket_id="t-2", window_days=14, min_score=-1.0
        )
    assert [c.ticket_id for c in found] == ["t-1"]  # found through the vector index, not a customer link

    with writer.session() as session:
        assert session.scalar(select(func.count()).select_from(ChangeLog)) == 0
    assert not (writer.settings.data_dir / "index").exists()
    assert not (reader.settings.data_dir / "index").exists()


def test_a_rolled_back_write_leaves_no_search_row(replicas: tuple[Runtime, Runtime]) -> None:
    writer, reader = replicas
    with pytest.raises(RuntimeError), writer.session() as session:
        kb_service.upsert(session, tenant_id="shop", article_in=_article("kb-ghost", "Ghost article text"))
        raise RuntimeError("the request failed after the write")
    with reader.session() as session:
        assert session.execute(text("SELECT count(*) FROM search_articles")).scalar() == 0
    assert len(reader.search.collection("shop", "articles")) == 0


def test_tenants_never_see_each_others_rows(replicas: tuple[Runtime, Runtime]) -> None:
    writer, reader = replicas
    for tenant in ("alpha", "beta"):
        with writer.session() as session:
            kb_service.upsert(
                session, tenant_id=tenant, article_in=_article(f"kb-{tenant}", "Shared words about refunds")
            )
    for tenant in ("alpha", "beta"):
        collection = reader.search.collection(tenant, "articles")
        assert _keys(collection, "shared words about refunds") == [f"kb-{tenant}"]
        assert {i.key for i in collection.matching(SearchFilter())} == {f"kb-{tenant}"}


def _items(n: int, rng: np.random.Generator, dim: int) -> tuple[list[IndexedItem], np.ndarray]:
    # Topics, as real messages have: points around 40 centres (uniform noise is no test of a graph index).
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        IndexedItem(
            item_id=i + 1,
            key=f"k{i}",
            text=f"item {i}",
            channels=("amazon",) if i % 50 == 0 else ("email",),
            locale="fr" if i % 7 == 0 else "en",
            timestamp=float(i),
            extra={"tag_source": "import" if i % 3 == 0 else "auto"},
        )
        for i in range(n)
    ]
    return items, vectors


def _written_tickets(
    reader: Runtime, writer: Runtime, n: int, rng: np.random.Generator
) -> tuple[PgSearchEngine, list[IndexedItem], np.ndarray]:
    """n tickets of tenant acme written through `writer`, searched through `reader`'s engine."""
    engine = reader.search
    assert isinstance(engine, PgSearchEngine)
    encoder = engine.encoder_for("tickets")
    items, vectors = _items(n, rng, encoder.dim)
    with writer.session() as session:
        engine._ensure("tickets")
        write_rows(session, "search_tickets", "acme", encoder.name, items, vectors)
        session.execute(text("ANALYZE search_tickets"))
    return engine, items, vectors


@pytest.mark.parametrize("exact_max", [0, 100_000], ids=["hnsw-iterative", "exact"])
def test_filters_in_sql_never_empty_the_top_k_and_match_exact_search(
    pgvector_url: str, tmp_path: Path, exact_max: int
) -> None:
    """2% of the items pass the channel filter: an HNSW walk that filtered after its usual 100
    candidates would find ~2. Through the HNSW query (iterative scan, over-fetch, fallback; the planner
    may still prefer a scan at this size) or the exact one, the top-k must stay full and match an exact
    search over the filtered items."""
    runtime = Runtime(
        _settings(pgvector_url, tmp_path, pgvector_exact_max=exact_max), encoders=hashing_encoders
    )
    runtime.migrate()
    rng = np.random.default_rng(7)
    engine, items, vectors = _written_tickets(runtime, runtime, 1500, rng)
    encoder = engine.encoder_for("tickets")
    collection = engine.collection("acme", "tickets")
    memory = build_collection(
        encoder=encoder, items=items, vectors=vectors, kind="flat", rrf_k=60, bm25_weight=0.3
    )
    filters = [
        SearchFilter(channels=("amazon",)),
        SearchFilter(channels=("email", "web")),
        SearchFilter(locales=("fr",), since=100.0, until=900.0),
        SearchFilter(extra_equals=(("tag_source", "import"),), exclude_keys=frozenset({"k0", "k3"})),
    ]
    for flt in filters:
        allowed = memory.count_matching(flt)
        assert collection.count_matching(flt) == allowed
        overlaps = []
        for query in vectors[rng.integers(0, len(vectors), 5)] + 0.3 * rng.standard_normal((5, encoder.dim)):
            query = (query / np.linalg.norm(query)).astype(np.float32)
            got = collection.search("", query, top_k=10, mode="dense", flt=flt, candidates=10)
            want = memory.search("", query, top_k=10, mode="dense", flt=flt, candidates=10)
            assert len(got) == min(10, allowed)
            assert all(_passes(h.item, flt) for h in got)
            overlaps.append(len({h.item.item_id for h in got} & {h.item.item_id for h in want}))
            if exact_max:
                assert [round(h.dense_score or 0, 4) for h in got] == [
                    round(h.dense_score or 0, 4) for h in want
                ]
        # Exact path: the same items; HNSW: approximate (recall at scale: eval/bench_scale.py).
        assert sum(overlaps) >= (50 if exact_max else 40)
    runtime.close()


def test_a_remembered_filter_size_never_changes_what_a_search_returns(
    pgvector_url: str, tmp_path: Path
) -> None:
    """A replica remembers how many rows a filter lets through, to choose the HNSW walk or the exact
    scan. Another replica then deletes most rows and adds new ones: the next search, with the stale
    size, must still return exactly the rows that are there now."""
    reader_runtime = Runtime(
        _settings(pgvector_url, tmp_path / "r", pgvector_exact_max=5), encoders=hashing_encoders
    )
    reader_runtime.migrate()
    writer_runtime = Runtime(_settings(pgvector_url, tmp_path / "w"), encoders=hashing_encoders)
    engine, items, vectors = _written_tickets(reader_runtime, writer_runtime, 60, np.random.default_rng(11))
    encoder = engine.encoder_for("tickets")
    collection = engine.collection("acme", "tickets")
    flt = SearchFilter(channels=("email",))
    query = vectors[0]
    assert len(collection.search("", query, top_k=10, mode="dense", flt=flt, candidates=10)) == 10
    with writer_runtime.session() as session:
        session.execute(text("DELETE FROM search_tickets WHERE item_id > 2"))
        write_rows(session, "search_tickets", "acme", encoder.name, [items[10]], vectors[10:11])
    left = {i.item_id for i in items[:2] + [items[10]] if _passes(i, flt)}
    got = collection.search("", query, top_k=10, mode="dense", flt=flt, candidates=10)
    assert {h.item.item_id for h in got} == left
    reader_runtime.close()
    writer_runtime.close()


def _passes(item: IndexedItem, flt: SearchFilter) -> bool:
    return (
        (flt.channels is None or not item.channels or any(c in item.channels for c in flt.channels))
        and (flt.locales is None or item.locale in flt.locales)
        and (flt.since is None or item.timestamp >= flt.since)
        and (flt.until is None or item.timestamp <= flt.until)
        and item.key not in flt.exclude_keys
        and all(item.extra.get(k) == v for k, v in flt.extra_equals)
    )


def test_keyword_search_stems_each_items_language(replicas: tuple[Runtime, Runtime]) -> None:
    writer, reader = replicas
    with writer.session() as session:
        for article_id, body, locale in (
            ("kb-fr", "Les livraisons sont retardées pendant les fêtes.", "fr"),
            ("kb-de", "Die Rücksendungen werden innerhalb von Tagen erstattet.", "de"),
            ("kb-en", "Refunds are issued within five working days.", "en"),
        ):
            kb_service.upsert(session, tenant_id="shop", article_in=_article(article_id, body, locale=locale))
    collection = reader.search.collection("shop", "articles")

    def keyword(query: str) -> list[str]:
        return [h.item.key for h in collection.search(query, None, top_k=5, mode="bm25")]

    assert keyword("livraison retardée") == ["kb-fr"]  # French stemming: plural and accents
    assert keyword("Rücksendung") == ["kb-de"]
    assert keyword("refunded issue") == ["kb-en"]  # English stemming, any word matches
    assert keyword("the and of") == []


def test_model_and_dimension_are_recorded_and_checked(replicas: tuple[Runtime, Runtime]) -> None:
    first, _ = replicas
    with first.session() as session:
        models = set(session.execute(text("SELECT collection, encoder, dim FROM search_models")).tuples())
        indexes = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%hnsw%'")))
        assert models == {("articles", "hashing", 256), ("tickets", "hashing", 256)}
        assert {"ix_search_articles_hnsw_hashing", "ix_search_tickets_hnsw_hashing"} <= indexes
        session.execute(text("UPDATE search_models SET dim = 384 WHERE collection = 'tickets'"))
    restarted = Runtime(first.settings, encoders=hashing_encoders)
    with pytest.raises(IndexMismatchError, match="dimension 384"):
        restarted.search.collection("shop", "tickets")
    restarted.close()


def test_pgvector_and_faiss_engines_rank_alike_on_the_same_items(replicas: tuple[Runtime, Runtime]) -> None:
    """The same articles through both backends: the same dense ranking (both exact at this size)."""
    writer, reader = replicas
    bodies = {
        "kb-track": "Track your parcel with the tracking number from the shipping e-mail.",
        "kb-return": "Print the return label and drop the parcel at any post office.",
        "kb-refund": "Refunds reach your card within five working days of our receiving the return.",
        "kb-invoice": "Download the invoice with VAT from your account page.",
    }
    with writer.session() as session:
        for article_id, body in bodies.items():
            kb_service.upsert(session, tenant_id="shop", article_in=_article(article_id, body))
    collection = reader.search.collection("shop", "articles")
    items = collection.matching(SearchFilter())
    encoder = HashingEncoder()
    memory = build_collection(
        encoder=encoder,
        items=items,
        vectors=collection.vectors([i.item_id for i in items]),
        kind="flat",
        rrf_k=60,
        bm25_weight=0.3,
    )
    for query in ("where is my parcel tracking", "refund to my card", "invoice VAT"):
        vector = encoder.encode([query], kind="query")[0]
        got = [
            (h.item.key, round(h.dense_score or 0, 4))
            for h in collection.search(query, vector, top_k=4, mode="dense")
        ]
        want = [
            (h.item.key, round(h.dense_score or 0, 4))
            for h in memory.search(query, vector, top_k=4, mode="dense")
        ]
        assert got == want
