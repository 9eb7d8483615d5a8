"""Untagged tickets are read against each reason's centroid over its generic phrasings in five languages."""

from __future__ import annotations

import numpy as np
import pytest

from core.reasons import load_examples
from core.schemas import TAGS
from embeddings.encoder import Encoder, load_encoder
from history.tagging import TAG_DESCRIPTIONS, reason_description_vectors


@pytest.fixture(scope="module")
def centroids() -> tuple[Encoder, np.ndarray]:
    encoder = load_encoder("use+minilm")
    return encoder, reason_description_vectors(encoder)


def test_every_reason_has_a_unit_centroid_built_from_many_phrasings(
    centroids: tuple[Encoder, np.ndarray],
) -> None:
    _, vectors = centroids
    assert vectors.shape[0] == len(TAGS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    per_tag = {tag: sum(1 for t, _ in load_examples() if t == tag) for tag in TAGS}
    assert min(per_tag.values()) >= 100  # the description alone was one English sentence per reason
    assert set(TAG_DESCRIPTIONS) == set(TAGS)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Das Paket kam völlig zerdrückt an und die Teekanne ist zerbrochen.", "damaged_in_transit"),
        ("Il tracciamento non si aggiorna da giorni, dov'è il mio pacco?", "tracking"),
        ("Me falta una de las dos macetas que pedí, solo llegó una.", "missing_item"),
        ("Pourriez-vous m'envoyer une facture avec la TVA pour ma commande ?", "invoice"),
        ("I returned the jacket two weeks ago and still have not had my money back.", "refund_status"),
    ],
)
def test_a_message_is_closest_to_its_reasons_centroid_in_any_language(
    centroids: tuple[Encoder, np.ndarray], message: str, reason: str
) -> None:
    encoder, vectors = centroids
    vector = encoder.encode([message], kind="passage")[0]
    assert TAGS[int(np.argmax(vectors @ vector))] == reason
