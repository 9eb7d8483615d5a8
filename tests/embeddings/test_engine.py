from __future__ import annotations

import json

import numpy as np
import pytest

from embeddings.collection import IndexedItem, SearchFilter
from embeddings.encoder import ConcatEncoder
from embeddings.index import FaissIndex
from indexing.engine import SearchEngine
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.factories import SHOP_ARTICLES, article, load_articles
from tests.support.encoders import HashingEncoder


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_faiss_filter_is_applied_inside_the_search(kind: str) -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 2000, 32)
    index = FaissIndex(32, kind, train_vectors=vectors if kind == "ivf" else None)
    index.add(np.arange(2000), vectors)
    allowed = np.arange(1990, 2000)
    scores, ids = index.search(vectors[:1], 5, allowed)
    # Truncating a global top-5 would return nothing from this far-away id range.
    assert set(ids[0]) <= set(allowed) and len(set(ids[0])) == 5
    index.remove(np.array([ids[0][0]]))
    assert index.count() == 1999


def test_readding_an_id_replaces_it() -> None:
    index = FaissIndex(8, "flat")
    rng = np.random.default_rng(1)
    index.add(np.array([7]), _unit(rng, 1, 8))
    index.add(np.array([7]), _unit(rng, 1, 8))
    assert index.count() == 1


def test_concat_encoder_gives_unit_vectors_and_weighted_cosine() -> None:
    enc = ConcatEncoder([HashingEncoder(64), HashingEncoder(32)], weights=[3, 1])
    vectors = enc.encode(["where is my parcel", "refund please"])
    assert vectors.shape == (2, 96)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_channel_filter_keeps_shopify_only_articles_from_amazon_buyers(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    collection = runtime.search.collection(tenant.tenant_id, "articles")
    query = "return label"
    hits = collection.search(
        query, runtime.search.encode_query(query), top_k=10, flt=SearchFilter(channels=("amazon",))
    )
    keys = [h.item.key for h in hits]
    assert "kb-returns-amazon" in keys and "kb-returns-shop" not in keys


def test_snapshot_round_trip_and_catch_up(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES[:3])
    runtime.search.save(tenant.tenant_id, "articles")
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)  # written after the snapshot
    fresh = SearchEngine(
        encoder=runtime.search.encoder,
        session_factory=runtime.session_factory,
        snapshot_dir=runtime.settings.index_dir,
        sources={"articles": runtime.search._sources["articles"]},
    )
    collection = fresh.collection(tenant.tenant_id, "articles")
    assert {i.key for i in collection.items.values()} == {a["id"] for a in SHOP_ARTICLES}
    assert collection.index.count() == len(collection.items)
    assert fresh.is_caught_up()


def test_index_built_with_another_model_is_rebuilt_not_searched(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    runtime.search.save(tenant.tenant_id, "articles")
    meta_path = runtime.settings.index_dir / tenant.tenant_id / "articles" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["encoder"] = "some-other-model"
    meta_path.write_text(json.dumps(meta))
    fresh = SearchEngine(
        encoder=runtime.search.encoder,
        session_factory=runtime.session_factory,
        snapshot_dir=runtime.settings.index_dir,
        sources={"articles": runtime.search._sources["articles"]},
    )
    collection = fresh.collection(tenant.tenant_id, "articles")
    assert collection.index.count() == len(collection.items) > 0
    assert json.loads(meta_path.read_text())["encoder"] == runtime.search.encoder.name


def test_corrupt_snapshot_is_rebuilt_from_the_database(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    runtime.search.save(tenant.tenant_id, "articles")
    (runtime.settings.index_dir / tenant.tenant_id / "articles" / "vectors.faiss").write_bytes(b"torn write")
    fresh = SearchEngine(
        encoder=runtime.search.encoder,
        session_factory=runtime.session_factory,
        snapshot_dir=runtime.settings.index_dir,
        sources={"articles": runtime.search._sources["articles"]},
    )
    collection = fresh.collection(tenant.tenant_id, "articles")
    assert (
        collection.index.count()
        == len(collection.items)
        == len(runtime.search.collection(tenant.tenant_id, "articles").items)
    )


def _fresh_engine(runtime: Runtime) -> SearchEngine:
    return SearchEngine(
        encoder=runtime.search.encoder,
        session_factory=runtime.session_factory,
        snapshot_dir=runtime.settings.index_dir,
        sources={"articles": runtime.search._sources["articles"]},
    )


def test_snapshot_damaged_in_place_is_detected_and_rebuilt(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)
    runtime.search.save(tenant.tenant_id, "articles")
    vectors = runtime.settings.index_dir / tenant.tenant_id / "articles" / "vectors.faiss"
    raw = bytearray(vectors.read_bytes())
    # Same length, still a loadable FAISS file: the damage is in the vector payload (NaN floats).
    start = len(raw) // 2
    raw[start : start + 4096] = b"\xff" * min(4096, len(raw) - start)
    vectors.write_bytes(bytes(raw))
    collection = _fresh_engine(runtime).collection(tenant.tenant_id, "articles")
    matrix = collection.index.vectors(np.array(sorted(collection.items), dtype=np.int64))
    assert np.isfinite(matrix).all() and collection.index.count() == len(collection.items) > 0
    hits = collection.search("return", runtime.search.encode_query("return"), top_k=3)
    assert hits


def test_snapshot_ahead_of_the_database_is_rebuilt(runtime: Runtime, tenant: TenantKeys) -> None:
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES[:3])
    runtime.search.save(tenant.tenant_id, "articles")
    meta_path = runtime.settings.index_dir / tenant.tenant_id / "articles" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["last_seq"] += 1000  # as after restoring an older database backup under a newer snapshot
    meta_path.write_text(json.dumps(meta))
    load_articles(runtime, tenant.tenant_id, SHOP_ARTICLES)  # written after the restore
    fresh = _fresh_engine(runtime)
    collection = fresh.collection(tenant.tenant_id, "articles")
    assert {i.key for i in collection.items.values()} == {a["id"] for a in SHOP_ARTICLES}
    assert fresh.is_caught_up()


def test_hybrid_fusion_ranks_items_found_by_both_first() -> None:
    encoder = HashingEncoder()
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    collection = engine.new_collection()
    texts = [
        "cast iron pan care",
        "refund timing for returns",
        "where is my parcel tracking",
        "bar stool assembly",
    ]
    items = [IndexedItem(item_id=i, key=f"k{i}", text=t) for i, t in enumerate(texts)]
    collection.apply(items, encoder.encode(texts), [])
    hits = collection.search("parcel tracking", engine.encode_query("parcel tracking"), top_k=2)
    assert hits[0].item.key == "k2" and hits[0].dense_rank == 0 and hits[0].bm25_rank == 0


def test_filters_stay_right_through_updates_deletes_and_compaction() -> None:
    encoder = HashingEncoder()
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    collection = engine.new_collection()

    def item(i: int, **kw: object) -> IndexedItem:
        return IndexedItem(item_id=i, key=f"k{i}", text=f"parcel number {i}", **kw)  # type: ignore[arg-type]

    items = [
        item(
            i, channels=("amazon",) if i % 2 else (), locale="de" if i % 3 == 0 else "en", timestamp=float(i)
        )
        for i in range(100)
    ]
    collection.apply(items, encoder.encode([i.text for i in items]), [])
    collection.apply([], None, list(range(0, 60)))  # past half dead: compaction
    moved = item(70, channels=("ebay",), locale="en", timestamp=5.0)
    collection.apply([moved], encoder.encode([moved.text]), [])
    q = engine.encode_query("parcel number")
    flt = SearchFilter(channels=("ebay",), since=60.0, exclude_keys=frozenset({"k64"}))
    for mode in ("dense", "bm25", "hybrid"):
        keys = {h.item.key for h in collection.search("parcel number", q, top_k=100, mode=mode, flt=flt)}  # type: ignore[arg-type]
        expected = {f"k{i}" for i in range(60, 100) if i % 2 == 0 and i not in (64, 70)}
        assert keys == expected, mode
    german = collection.search("parcel", q, top_k=100, mode="dense", flt=SearchFilter(locales=("de",)))
    assert {h.item.key for h in german} == {f"k{i}" for i in range(60, 100) if i % 3 == 0 and i != 70}


def test_a_filter_on_several_channels_keeps_rows_scoped_to_any_of_them(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    rows = [
        article(
            id=f"kb-{scope or 'all'}",
            body="Invoices with your company name",
            channels=[scope] if scope else [],
        )
        for scope in ("web", "email", "amazon", "")
    ]
    load_articles(runtime, tenant.tenant_id, rows)
    collection = runtime.search.collection(tenant.tenant_id, "articles")
    query = "company invoice"
    vector = runtime.search.encode_query(query)

    def keys(flt: SearchFilter) -> set[str]:
        return {h.item.key for h in collection.search(query, vector, top_k=10, flt=flt)}

    assert keys(SearchFilter(channels=("email", "web"))) == {"kb-web", "kb-email", "kb-all"}
    assert keys(SearchFilter(channels=("amazon",))) == {"kb-amazon", "kb-all"}
    assert keys(SearchFilter(channels=("ebay",))) == {"kb-all"}
    assert keys(SearchFilter()) == {"kb-web", "kb-email", "kb-amazon", "kb-all"}
