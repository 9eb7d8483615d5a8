from __future__ import annotations

import time

import numpy as np

from embeddings.collection import IndexedItem
from history.tagging import auto_tag, label_heads
from indexing.engine import SearchEngine
from tests.support.encoders import HashingEncoder

PHRASES = {
    "tracking": ["where is my parcel {n}", "parcel {n} not arrived tracking", "tracking number {n} stuck"],
    "refund_status": [
        "refund {n} not received money",
        "when is my money back {n}",
        "refund {n} status please",
    ],
}


def test_label_head_trains_in_the_background_and_then_joins_the_vote() -> None:
    encoder = HashingEncoder()
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    collection = engine.collection("acme", "tickets")
    items = []
    for label, phrases in PHRASES.items():
        for n in range(20):
            text = phrases[n % 3].format(n=n)
            items.append(
                IndexedItem(
                    item_id=len(items) + 1,
                    key=f"t{len(items)}",
                    text=text,
                    labels=(label,),
                    extra={"tag_source": "import"},
                )
            )
    collection.apply(items, encoder.encode([i.text for i in items]), [])
    query = encoder.encode(["my refund money has not arrived"])[0]

    assert auto_tag(engine, tenant_id="acme", vector=query) == "refund_status"  # neighbour vote only
    deadline = time.monotonic() + 30
    while label_heads.get(engine, "acme") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    head = label_heads.get(engine, "acme")
    assert head is not None and sorted(head.classes) == ["refund_status", "tracking"]
    probabilities = head.predict(np.asarray([query]))[0]
    assert probabilities[head.classes.index("refund_status")] > 0.5
    assert auto_tag(engine, tenant_id="acme", vector=query) == "refund_status"
