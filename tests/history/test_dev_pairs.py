"""The hand-labelled, held-out duplicate development set (tests/history/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.duplicates import read_pairs, run
from history import service

DATA = Path(__file__).parent / "data"
TICKETS = DATA / "dup_dev_tickets.jsonl"
PAIRS = DATA / "dup_dev_pairs.jsonl"
ORDERS = DATA / "dup_dev_orders.jsonl"


def test_dev_set_is_consistent_and_covers_the_hard_negatives() -> None:
    tickets = {t.id: t for t in service.parse_tickets(TICKETS)}
    orders = service.parse_orders(ORDERS)
    pairs = read_pairs(PAIRS, set(tickets))
    assert len(pairs) >= 40 and len({(p.a, p.b) for p in pairs}) == len(pairs)
    assert {o.order_id for o in orders} >= {t.order_id for t in tickets.values() if t.order_id}
    positives = [p for p in pairs if p.duplicate]
    negatives = [p for p in pairs if not p.duplicate]
    # Cross-language re-contacts among the duplicates.
    assert sum(tickets[p.a].locale != tickets[p.b].locale for p in positives) >= 3
    # Hard negatives: same customer e-mail with a different problem, and same text from different people.
    same_email = [p for p in negatives if tickets[p.a].customer.email == tickets[p.b].customer.email]
    same_text = [p for p in negatives if tickets[p.a].body == tickets[p.b].body]
    strangers_same_reason = [
        p
        for p in negatives
        if tickets[p.a].customer.email != tickets[p.b].customer.email
        and tickets[p.a].tags == tickets[p.b].tags
    ]
    assert len(same_email) >= 8 and len(same_text) >= 2 and len(strangers_same_reason) >= 8


@pytest.mark.slow
def test_detector_beats_exact_match_on_held_out_pairs() -> None:
    result = run(tickets_path=TICKETS, pairs_path=PAIRS, orders_path=ORDERS, encoder="use+minilm")
    held_out, baseline = result["method_at_default_threshold"], result["baseline_exact_email_or_order"]
    assert held_out["precision"] >= 0.9 and held_out["recall"] >= 0.9
    assert held_out["f1"] >= baseline["f1"] + 0.3
