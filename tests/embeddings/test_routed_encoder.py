"""The routed encoder's query vectors (a part weighted 0 is not run, and the product is unchanged) and
the query cache in front of every loaded model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.encoder import CachedEncoder, RoutedEncoder, TextKind
from indexing.engine import SearchEngine
from tests.support.encoders import HashingEncoder


class CountingEncoder(HashingEncoder):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.calls = 0
        self.texts = 0

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return super().encode(texts, kind=kind)


def test_a_part_weighted_zero_is_not_encoded_and_scores_are_unchanged() -> None:
    first, second = CountingEncoder(64), CountingEncoder(128)
    routed = RoutedEncoder([first, second], name="test-routed", default_weights=(1.0, 0.0))
    passages = routed.encode(["parcel not delivered", "invoice for my company"], kind="passage")
    query = routed.encode(["where is my parcel"], kind="query")
    assert second.calls == 1  # the passages only
    full = routed.combine(routed.part_vectors(["where is my parcel"]), (1.0, 0.0))
    np.testing.assert_allclose(query @ passages.T, full @ passages.T, atol=1e-6)
    assert query.shape == (1, 192)


def test_sentences_encoded_as_one_batch_of_queries_are_not_encoded_again_one_by_one() -> None:
    # A draft's question classifier encodes every sentence in one batch, then each question is searched
    # on its own: the second pass read the model again (76 ms per e5 query on 2 cores).
    inner = CountingEncoder(64)
    cached = CachedEncoder(inner, max_entries=3)
    sentences = ["where is my parcel", "can I get an invoice", "where is my parcel"]
    batch = cached.encode(sentences, kind="query")
    assert (inner.calls, inner.texts) == (1, 2)  # one model call, the repeated sentence once
    np.testing.assert_allclose(batch, inner.encode(sentences, kind="query"))
    inner.calls = inner.texts = 0
    single = cached.encode(["can I get an invoice"], kind="query")
    assert inner.calls == 0 and single.shape == (1, 64)
    np.testing.assert_allclose(single[0], batch[1])
    # Passage batches (index builds) go straight to the model and leave the queries in the cache.
    cached.encode(["a", "b", "c", "d"], kind="passage")
    cached.encode(["a", "b", "c", "d"], kind="passage")
    assert (inner.calls, inner.texts) == (2, 8)
    cached.encode(["where is my parcel"], kind="query")
    assert inner.calls == 2
    # Bounded: a fourth query evicts the least recently used one.
    cached.encode(["x", "y"], kind="query")
    cached.encode(["where is my parcel"], kind="query")
    assert inner.calls == 3
    cached.encode(["can I get an invoice"], kind="query")
    assert inner.calls == 4


def test_a_drafts_question_searches_are_encoded_in_one_batch_per_model() -> None:
    first, second = CountingEncoder(64), CountingEncoder(32)
    routed = RoutedEncoder(
        [CachedEncoder(first), CachedEncoder(second)], name="test-routed", default_weights=(0.5, 0.5)
    )
    engine = SearchEngine(
        encoder=CachedEncoder(HashingEncoder()),
        session_factory=None,
        snapshot_dir=None,
        collection_encoders={"articles": routed},
    )
    queries = ["where is my parcel", "can I get an invoice", "where is my parcel", ""]
    engine.prepare_queries(queries, "articles")
    assert (first.calls, first.texts, second.calls, second.texts) == (1, 2, 1, 2)
    for query in queries[:3]:
        routed.part_vectors([query])
    assert (first.calls, second.calls) == (1, 1)  # every search found its vectors
    engine.prepare_queries(["only one"], "articles")  # nothing to batch: the search encodes it itself
    assert first.calls == 1
