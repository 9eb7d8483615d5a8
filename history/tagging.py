"""Automatic reason tags for untagged tickets: nearest human-tagged tickets, else the tag descriptions."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from core.schemas import TAGS

if TYPE_CHECKING:
    from embeddings.engine import SearchEngine

# Written as a customer would say it, so they land near real messages in the embedding space.
TAG_DESCRIPTIONS: dict[str, str] = {
    "tracking": "Where is my parcel? My order has not arrived, the tracking has not updated.",
    "return_label": "How do I return the item? Please send me a return label.",
    "refund_status": "When will I get my refund? I returned the item and have not been refunded yet.",
    "product_question": "Question about the product before buying: size, material, compatibility.",
    "damaged_in_transit": "The item arrived broken, damaged in transit, the box was crushed.",
    "cancellation": "Please cancel my order, I ordered by mistake.",
    "wrong_item": "I received the wrong item, not what I ordered, wrong colour or size.",
    "missing_item": "An item is missing from my package, the parcel was incomplete.",
    "invoice": "Please send me an invoice or receipt with VAT for my order.",
    "delivery_change": "Can I change the delivery address or delivery date of my order?",
    "other": "Something else, a general question.",
}
NEIGHBOURS = 7
MIN_NEIGHBOUR_SIMILARITY = 0.35

_lock = threading.Lock()
_description_vectors: dict[str, np.ndarray] = {}


def _descriptions(engine: SearchEngine) -> np.ndarray:
    with _lock:
        found = _description_vectors.get(engine.encoder.name)
        if found is None:
            found = engine.encoder.encode([TAG_DESCRIPTIONS[t] for t in TAGS], kind="passage")
            _description_vectors[engine.encoder.name] = found
        return found


def auto_tag(engine: SearchEngine, *, tenant_id: str, vector: np.ndarray) -> str:
    """The reason tag of a message: a similarity-weighted vote of the nearest human-tagged tickets."""
    from embeddings.engine import SearchFilter

    collection = engine.collection(tenant_id, "tickets")
    hits = collection.search("", vector, top_k=NEIGHBOURS, mode="dense",
                             flt=SearchFilter(extra_equals=(("tag_source", "import"),)))
    votes: dict[str, float] = {}
    for hit in hits:
        if hit.dense_score is None or hit.dense_score < MIN_NEIGHBOUR_SIMILARITY:
            continue
        for label in hit.item.labels:
            votes[label] = votes.get(label, 0.0) + hit.dense_score / len(hit.item.labels)
    if votes:
        return max(votes, key=lambda tag: votes[tag])
    similarities = _descriptions(engine) @ vector.astype(np.float32)
    return TAGS[int(np.argmax(similarities))]
