"""Automatic reason tags for untagged tickets: nearest human-tagged tickets, else the tag descriptions."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

from core.reasons import load_examples
from core.schemas import TAGS
from embeddings.collection import SearchFilter
from history.labels import DENSE_NEIGHBOURS, LabelHead, rank_labels

if TYPE_CHECKING:
    from embeddings.collection import SearchCollection
    from embeddings.encoder import Encoder
    from indexing.engine import SearchEngine

log = logging.getLogger(__name__)

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
MIN_NEIGHBOUR_SIMILARITY = 0.35
# The human-tagged tickets: those whose tags came with the import, not from auto_tag.
HUMAN_TAGGED = SearchFilter(extra_equals=(("tag_source", "import"),))

_lock = threading.Lock()
_description_vectors: dict[str, np.ndarray] = {}


def reason_description_vectors(encoder: Encoder) -> np.ndarray:
    """One row per reason tag (in `TAGS` order): the centroid of the encoder's vectors of its customer-style
    description and its generic example phrasings in five languages (core/data/reason_examples.yaml).

    One English sentence per tag made a poor prototype for a German or Italian message: leave-one-shop-out
    over the twelve development duplicate sets, auto-tagged, pooled F1 0.925 with the descriptions alone and
    0.942 with the centroids (precision 0.892 -> 0.931; eval/results/duplicates-loso-12-centroids.md)."""
    key = f"{encoder.name}:{encoder.version}"
    with _lock:
        found = _description_vectors.get(key)
        if found is None:
            phrases: dict[str, list[str]] = {tag: [TAG_DESCRIPTIONS[tag]] for tag in TAGS}
            for tag, phrase in load_examples():
                if tag in phrases:
                    phrases[tag].append(phrase)
            rows = []
            for tag in TAGS:
                centroid = np.asarray(encoder.encode(phrases[tag], kind="passage"), np.float32).mean(axis=0)
                rows.append(centroid / max(float(np.linalg.norm(centroid)), 1e-12))
            found = np.vstack(rows).astype(np.float32)
            _description_vectors[key] = found
        return found


class _HeadRegistry:
    """Per-tenant label heads (history/labels.py), trained off the request path.

    A head is (re)trained in a background thread when a tenant has enough human-tagged tickets
    and their number moved by more than a tenth since the last training; until it is ready,
    tagging uses the neighbour vote alone.
    """

    MIN_EXAMPLES = 30

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str], tuple[int, LabelHead | None]] = {}
        self._training: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def get(self, engine: SearchEngine, tenant_id: str) -> LabelHead | None:
        key = (tenant_id, engine.encoder.name)
        collection = engine.collection(tenant_id, "tickets")
        # A count, not the items: in a database-backed collection that is one indexed query.
        labelled = collection.count_matching(HUMAN_TAGGED)
        with self._lock:
            trained = self._heads.get(key)
            stale = trained is None or abs(labelled - trained[0]) > trained[0] / 10
            start = stale and key not in self._training and labelled >= self.MIN_EXAMPLES
            if start:
                self._training.add(key)
        if start:
            threading.Thread(
                target=self._train,
                args=(key, collection),
                daemon=True,
                name=f"label-head-{tenant_id}",
            ).start()
        return trained[1] if trained else None

    def _train(self, key: tuple[str, str], collection: SearchCollection) -> None:
        try:
            labelled = [i for i in collection.matching(HUMAN_TAGGED) if i.labels]
            head = None  # one tag alone teaches nothing; remembered so it is not retried on every call
            if len({i.labels[0] for i in labelled}) >= 2:
                vectors = collection.vectors([i.item_id for i in labelled])
                head = LabelHead(vectors, [i.labels[0] for i in labelled])
            with self._lock:
                self._heads[key] = (len(labelled), head)
        except Exception:  # a failed training leaves tagging on the neighbour vote
            log.exception("label head training failed for %s", key)
        finally:
            with self._lock:
                self._training.discard(key)


label_heads = _HeadRegistry()


def auto_tag(engine: SearchEngine, *, tenant_id: str, vector: np.ndarray) -> str:
    """The reason tag of a message: label-aware vote of the nearest human-tagged tickets (softmax over
    their similarity, history/labels.py) mixed with the tenant's label head once trained; the
    closest tag description when no tagged ticket is near."""

    collection = engine.collection(tenant_id, "tickets")
    hits = [
        h
        for h in collection.search(
            "",
            vector,
            top_k=DENSE_NEIGHBOURS,
            mode="dense",
            flt=HUMAN_TAGGED,
        )
        if h.dense_score is not None and h.dense_score >= MIN_NEIGHBOUR_SIMILARITY
    ]
    if hits:
        head = label_heads.get(engine, tenant_id)
        probabilities = None
        if head is not None:
            row = head.predict(vector.reshape(1, -1).astype(np.float32))[0]
            probabilities = dict(zip(head.classes, (float(p) for p in row), strict=True))
        ranking = rank_labels(hits, None, probabilities)
        if ranking.labels:
            return ranking.labels[0]
    similarities = reason_description_vectors(engine.encoder) @ vector.astype(np.float32)
    return TAGS[int(np.argmax(similarities))]
