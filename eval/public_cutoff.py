"""Abstain cut-offs without a shop's labelled out-of-scope data: calibrated on CLINC150 validation.

Method: CLINC150's training examples stand in for a help centre's texts (a sample per intent, as
"passages"), its validation queries for customers (in scope: one of the 150 intents; out of scope:
the 100 OOS queries of the split). For each encoder mix a query's confidence is its highest cosine to
any example; the cut-off is the lowest one that keeps at least 95 % of the in-scope queries
answered, i.e. the most out-of-scope abstained at that bar. Test is never read.

CLINC150 is English and its "passages" are single sentences, so a cut-off carried over to article
chunks can only be a default: `deflect eval loso` reports what it keeps and abstains on every
development shop beside the leave-one-shop-out cut-offs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import ROOT
from eval import metrics as m
from eval.datasets import read_queries, read_tickets
from eval.loso import PARTS, VectorCache

CLINC = ROOT.parent / "shared" / "data" / "clinc150"


def clinc_cutoffs(
    mixes: Sequence[tuple[float, ...]],
    *,
    cache: VectorCache,
    folder: Path = CLINC,
    examples_per_intent: int = 20,
    min_kept: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Per mix: the cut-off, and the out-of-scope share it abstains on / in-scope share it keeps (val)."""
    tickets = read_tickets(folder / "tickets.jsonl")
    queries = read_queries(folder / "queries_val.jsonl")
    by_intent: dict[str, list[str]] = defaultdict(list)
    for ticket in tickets:
        if ticket.tags:
            by_intent[ticket.tags[0]].append(ticket.text)
    rng = random.Random(seed)
    examples = [
        text
        for intent in sorted(by_intent)
        for text in rng.sample(by_intent[intent], min(examples_per_intent, len(by_intent[intent])))
    ]
    used = [p for i, p in enumerate(PARTS) if any(mix[i] for mix in mixes)]
    passages = {p: cache.encode(p, examples, "passage") for p in used}
    asked = {p: cache.encode(p, [q.text for q in queries], "query") for p in used}
    cosines = {p: asked[p] @ passages[p].T for p in used}
    out_of_scope = [q.out_of_scope for q in queries]
    result: dict[str, Any] = {
        "examples": len(examples),
        "queries": len(queries),
        "out_of_scope": sum(out_of_scope),
        "min_kept": min_kept,
        "cutoffs": {},
    }
    for mix in mixes:
        combined = sum(w * cosines[p] for p, w in zip(PARTS, mix, strict=True) if w)
        confidence = np.asarray(combined).max(axis=1)
        point = m.best_threshold(
            confidence.tolist(), out_of_scope, [True] * len(queries), min_in_scope=min_kept, constraint="kept"
        )
        result["cutoffs"][mix_key(mix)] = {
            "threshold": round(float(point.threshold), 4),
            "oos_abstained": round(point.oos_abstained, 4),
            "in_scope_kept": round(point.in_scope_kept, 4),
        }
    return result


def mix_key(mix: Sequence[float]) -> str:
    return "+".join(f"{p}:{w:g}" for p, w in zip(PARTS, mix, strict=True) if w)
