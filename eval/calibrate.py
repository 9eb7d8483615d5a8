"""Abstain-threshold calibration: choose it on labelled queries, store it for the tenant and encoder.

`kb.suggest.article_cutoff` reads the newest `Calibration` row for (tenant, collection,
encoder), so the API starts using a new threshold on its next request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from core.calibration import store_threshold
from core.errors import InvalidInputError
from core.models import Calibration
from eval import metrics as m
from eval.datasets import Query
from eval.retrieval import (
    CALIBRATION_K,
    Corpus,
    SystemSpec,
    calibrate_threshold,
    encode,
    head_probabilities,
    run_system,
)
from indexing.engine import SearchEngine

HYBRID = SystemSpec("hybrid", "hybrid")


def choose_threshold(
    engine: SearchEngine,
    corpus: Corpus,
    queries: Sequence[Query],
    *,
    min_in_scope: float = 0.95,
    constraint: str = "recall",
) -> tuple[m.ThresholdPoint, dict[str, Any]]:
    """Runs our hybrid system on the queries and picks the threshold; returns it with its evidence."""
    in_scope = sum(1 for q in queries if not q.out_of_scope)
    out_of_scope = len(queries) - in_scope
    if not in_scope or not out_of_scope:
        raise InvalidInputError(
            f"calibration needs in-scope and out-of-scope queries (got {in_scope} in scope, {out_of_scope} "
            f"out)"
        )
    vectors = encode(
        corpus.collection.encoder,
        [q.text for q in queries],
        kind="query",
        label="encoding calibration queries",
    )
    outcomes = run_system(corpus, queries, vectors, HYBRID, head_probabilities(corpus, vectors))
    point = calibrate_threshold(outcomes, min_in_scope=min_in_scope, constraint=constraint)
    quality = (
        f"in-scope recall@{CALIBRATION_K} after abstention" if constraint == "recall" else "in-scope kept"
    )
    evidence = {
        "queries": len(queries),
        "in_scope": in_scope,
        "out_of_scope": out_of_scope,
        "oos_abstained": point.oos_abstained,
        "in_scope_kept": point.in_scope_kept,
        f"in_scope_recall@{CALIBRATION_K}": point.in_scope_recall,
        "objective": f"maximise out-of-scope abstention subject to {quality} >= {min_in_scope}",
    }
    return point, evidence


def store(
    session: Session,
    *,
    tenant_id: str,
    collection: str,
    encoder: str,
    threshold: float,
    evidence: dict[str, Any],
    source: str,
) -> Calibration:
    """Appends a calibration row; the newest one per (tenant, collection, encoder) is the one in force."""
    return store_threshold(
        session,
        tenant_id=tenant_id,
        collection=collection,
        encoder=encoder,
        threshold=threshold,
        objective=str(evidence["objective"]),
        metrics=evidence,
        source=source,
    )
