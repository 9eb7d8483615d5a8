"""Duplicate-detection evaluation: precision/recall/F1 of the detector beside an exact-match baseline.

The detector is scored end to end: a pair counts as flagged only when candidate generation (index
search within the window + same-customer tickets) surfaces it and its score reaches the threshold.
The threshold is chosen on the labelled pairs (F1-optimal) and, to show how much that flatters,
also cross-validated: each fold is scored with a threshold chosen on the other folds.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from core import calibration
from core import keys as key_service
from core.jsonl import read_jsonl_numbered
from core.settings import Settings
from eval import metrics
from history import service
from history.duplicates import COLLECTION, DEFAULT_THRESHOLD, find_duplicates
from history.identity import normalise_email
from history.schemas import TicketCreate
from runtime import Runtime

FOLDS = 5
EVAL_TENANT = "eval-duplicates"


class LabelledPair(BaseModel):
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    duplicate: bool


@dataclass
class PairResult:
    a: str
    b: str
    duplicate: bool
    score: float
    surfaced: bool
    reasons: list[str]
    baseline: bool


def read_pairs(path: Path, known: set[str]) -> list[LabelledPair]:
    """duplicate_pairs.jsonl; every pair must name tickets of the tickets file given beside it."""

    def parse(raw: dict[str, Any], _line: int) -> LabelledPair:
        pair = LabelledPair.model_validate(raw)
        missing = [i for i in (pair.a, pair.b) if i not in known]
        if missing:
            raise ValueError(f"unknown ticket id(s): {', '.join(missing)}")
        return pair

    return read_jsonl_numbered(path, parse)


def prf(predicted: Sequence[bool], gold: Sequence[bool]) -> dict[str, float | int | None]:
    """Precision, recall and F1 of boolean predictions, rounded for the report (None when undefined)."""
    return metrics.prf_of(predicted, gold).as_dict(digits=4)


def best_threshold(scores: Sequence[float], gold: Sequence[bool]) -> float:
    """The F1-optimal threshold; ties go to the higher threshold (fewer false merges)."""
    candidates = sorted({s for s in scores if s > 0}, reverse=True)
    best, best_f1 = DEFAULT_THRESHOLD, -1.0
    for threshold in candidates:
        # An undefined F1 (nothing predicted and nothing to find) is no better than the default.
        f1 = metrics.prf_of([s >= threshold for s in scores], gold).f1 or 0.0
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def _baseline(a: TicketCreate, b: TicketCreate) -> bool:
    """What exact-field help desks do: same e-mail address, or the same attached order id."""
    email_a = normalise_email(a.customer.email) if a.customer.email else None
    email_b = normalise_email(b.customer.email) if b.customer.email else None
    if email_a and email_a == email_b:
        return True
    return bool(a.order_id and a.order_id == b.order_id)


def run(
    *,
    tickets_path: Path,
    pairs_path: Path,
    orders_path: Path | None,
    encoder: str,
    window_days: int = 14,
    seed: int = 13,
    without_tags: bool = False,
) -> dict[str, Any]:
    """Loads the files into a throw-away database and scores every labelled pair.

    `without_tags` drops the human reason tags, so every ticket is auto-tagged: the situation of a
    new ticket that nobody has triaged yet.
    """
    tickets = service.parse_tickets(tickets_path)
    if without_tags:
        tickets = [t.model_copy(update={"tags": []}) for t in tickets]
    by_id = {t.id: t for t in tickets}
    pairs = read_pairs(pairs_path, set(by_id))
    orders = service.parse_orders(orders_path) if orders_path else []
    with tempfile.TemporaryDirectory(prefix="deflect-dup-eval-") as folder:
        runtime = Runtime(Settings(data_dir=Path(folder), encoder=encoder))  # type: ignore[arg-type]
        try:
            runtime.migrate()
            started = time.perf_counter()
            with runtime.session() as session:
                key_service.get_or_create_tenant(session, tenant_id=EVAL_TENANT)
                service.import_orders(session, tenant_id=EVAL_TENANT, orders=orders, file=str(orders_path))
                service.import_tickets(
                    session, runtime.search, tenant_id=EVAL_TENANT, tickets=tickets, file=str(tickets_path)
                )
            runtime.search.catch_up(EVAL_TENANT, "tickets")
            load_seconds = time.perf_counter() - started
            results = _score_pairs(runtime, pairs, by_id, window_days)
        finally:
            runtime.close()
    gold = [r.duplicate for r in results]
    scores = [r.score if r.surfaced else 0.0 for r in results]
    threshold = best_threshold(scores, gold)
    method = prf([s >= threshold for s in scores], gold)
    cv = _cross_validated(scores, gold, seed)
    baseline = prf([r.baseline for r in results], gold)
    errors = [
        {
            "a": r.a,
            "b": r.b,
            "duplicate": r.duplicate,
            "score": r.score,
            "surfaced": r.surfaced,
            "reasons": r.reasons,
        }
        for r in results
        if (r.surfaced and r.score >= threshold) != r.duplicate
    ]
    return {
        "encoder": encoder,
        "without_tags": without_tags,
        "pairs": len(results),
        "positives": sum(gold),
        "window_days": window_days,
        "threshold": round(threshold, 4),
        "method": method,
        "method_cross_validated": cv,
        "method_at_default_threshold": {
            "threshold": DEFAULT_THRESHOLD,
            **prf([s >= DEFAULT_THRESHOLD for s in scores], gold),
        },
        "baseline_exact_email_or_order": baseline,
        "positives_surfaced_by_candidate_generation": sum(r.surfaced for r in results if r.duplicate),
        "load_seconds": round(load_seconds, 2),
        "errors": errors,
    }


def _score_pairs(
    runtime: Runtime, pairs: list[LabelledPair], by_id: dict[str, TicketCreate], window_days: int
) -> list[PairResult]:
    results: list[PairResult] = []
    cache: dict[str, dict[str, Any]] = {}
    with runtime.session() as session:
        for pair in pairs:
            found: dict[str, Any] = {}
            for source, target in ((pair.a, pair.b), (pair.b, pair.a)):
                if source not in cache:
                    ticket = service.get_ticket(session, tenant_id=EVAL_TENANT, ticket_id=source)
                    candidates = find_duplicates(
                        session,
                        runtime.search,
                        tenant_id=EVAL_TENANT,
                        ticket=ticket,
                        window_days=window_days,
                        threshold=1.0,
                        min_score=0.0,
                        top_k=1000,
                    )
                    cache[source] = {c.ticket_id: c for c in candidates}
                if target in cache[source]:
                    found = {"score": cache[source][target].score, "reasons": cache[source][target].reasons}
                    break
            results.append(
                PairResult(
                    a=pair.a,
                    b=pair.b,
                    duplicate=pair.duplicate,
                    score=float(found.get("score", 0.0)),
                    surfaced=bool(found),
                    reasons=list(found.get("reasons", [])),
                    baseline=_baseline(by_id[pair.a], by_id[pair.b]),
                )
            )
    return results


def _cross_validated(scores: list[float], gold: list[bool], seed: int) -> dict[str, Any]:
    order = list(range(len(scores)))
    random.Random(seed).shuffle(order)
    predicted = [False] * len(scores)
    thresholds = []
    for fold in range(FOLDS):
        held = set(order[fold::FOLDS])
        train = [i for i in order if i not in held]
        threshold = best_threshold([scores[i] for i in train], [gold[i] for i in train])
        thresholds.append(round(threshold, 4))
        for i in held:
            predicted[i] = scores[i] >= threshold
    return {"folds": FOLDS, "thresholds": thresholds, **prf(predicted, gold)}


def store_threshold(runtime: Runtime, *, tenant_id: str, result: dict[str, Any], source: str) -> None:
    """Keeps the calibrated threshold for the tenant and encoder; the detector reads the newest one."""

    with runtime.session() as session:
        key_service.get_or_create_tenant(session, tenant_id=tenant_id)
        calibration.store_threshold(
            session,
            tenant_id=tenant_id,
            collection=COLLECTION,
            encoder=result["encoder"],
            threshold=result["threshold"],
            objective="max F1 over labelled duplicate pairs",
            metrics={
                "method": result["method"],
                "cross_validated": result["method_cross_validated"],
                "baseline": result["baseline_exact_email_or_order"],
            },
            source=source,
        )
