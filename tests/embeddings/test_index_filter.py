"""The id filter is applied inside each vector index, before top-k: nothing outside it comes back."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.index import make_index


@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_ids_above_the_largest_allowed_one_never_pass_the_filter(backend: str) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1500, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = make_index(backend, 64)  # type: ignore[arg-type]
    ids = np.arange(1, 1501, dtype=np.int64)
    index.add(ids, vectors)
    allowed = ids[::50]  # 1, 51, ..., 1451: the highest ids (1452-1500) are all outside
    for query in vectors[rng.integers(0, 1500, 20)]:
        _, found = index.search(query.reshape(1, -1), 10, allowed)
        assert set(found[0].tolist()) <= set(allowed.tolist())
        exact = allowed[np.argsort(-(vectors[allowed - 1] @ query))[:10]]
        assert found[0].tolist() == exact.tolist()
