"""A draft's question searches find their query vectors ready: each model runs once for all of them,
typo-corrected texts included (the search encodes the corrected text, the draft's passages the raw one)."""

from __future__ import annotations

from pathlib import Path

from core import keys
from core.settings import Settings
from embeddings.encoder import CachedEncoder, Encoder, Precision, RoutedEncoder
from kb.suggest import prepare_article_queries, suggest
from runtime import Runtime
from tests.embeddings.test_routed_encoder import CountingEncoder
from tests.factories import SHOP_ARTICLES, load_articles
from tests.support.encoders import hashing_encoders


def test_prepared_question_queries_need_no_model_pass_when_searched(tmp_path: Path) -> None:
    first, second = CountingEncoder(64), CountingEncoder(32)
    routed = RoutedEncoder(
        [CachedEncoder(first), CachedEncoder(second)], name="test-routed", default_weights=(0.5, 0.5)
    )

    def encoders(
        name: str, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto"
    ) -> Encoder:
        return routed if name == "routed" else hashing_encoders(name)

    runtime = Runtime(
        Settings(data_dir=tmp_path, encoder="use+minilm", article_encoder="routed"), encoders=encoders
    )
    try:
        runtime.migrate()
        with runtime.session() as session:
            keys.get_or_create_tenant(session, tenant_id="shop")
        load_articles(runtime, "shop", SHOP_ARTICLES)
        # "parcle" is a typo of a word the articles use: the search reads "parcel" instead.
        queries = ["wher is my parcle", "I need an invoice for my company"]
        first.calls = second.calls = 0
        prepare_article_queries(runtime.search, tenant_id="shop", queries=queries, locale="en")
        assert (first.calls, second.calls) == (1, 1)
        with runtime.session() as session:
            for query in queries:
                suggest(session, runtime.search, tenant_id="shop", query=query, locale="en", snippets=False)
                runtime.search.encode_query(query, "articles")
        assert (first.calls, second.calls) == (1, 1)
    finally:
        runtime.close()
