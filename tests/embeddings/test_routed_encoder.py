"""The routed encoder's query vectors: a part weighted 0 is not run, and the product is unchanged."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.encoder import RoutedEncoder, TextKind
from tests.support.encoders import HashingEncoder


class CountingEncoder(HashingEncoder):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.calls = 0

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        self.calls += 1
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
