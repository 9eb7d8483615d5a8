"""Pure evaluation metrics over plain Python values: no model, no database, no I/O.

Ranking metrics take one query's ranked ids (article ids, or distinct labels for label-only
sets) and the set of ids that answer it. A customer needs one answering article, so
`recall_at_k` is the share of queries with at least one answer in the top k (the "success"
or "hit rate" reading of recall used by deflection evaluations); with one relevant id per
query, as in BANKING77 and CLINC150, both readings coincide.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def distinct(ranked: Iterable[T]) -> list[T]:
    """Keeps the first occurrence of each id: label rankings count the first k *distinct* labels."""
    seen: set[T] = set()
    out: list[T] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def recall_at_k(ranked: Sequence[T], relevant: Iterable[T], k: int) -> float:
    """1.0 when any relevant id is among the first k ranked ids, else 0.0."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError(
            "recall@k needs at least one relevant id (out-of-scope queries are scored by abstention)"
        )
    return 1.0 if any(item in wanted for item in ranked[:k]) else 0.0


def mrr_at_k(ranked: Sequence[T], relevant: Iterable[T], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the first k, else 0.0."""
    wanted = set(relevant)
    for rank, item in enumerate(ranked[:k], start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[T], relevant: Iterable[T], k: int = 10) -> float:
    """Binary-gain nDCG: DCG of the ranking over the DCG of all relevant ids ranked first."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError("nDCG needs at least one relevant id")
    dcg = sum(1.0 / math.log2(rank + 1) for rank, item in enumerate(ranked[:k], start=1) if item in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def label_accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Share of queries whose top label equals the gold label (None = nothing predicted)."""
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold labels differ in length")
    if not gold:
        raise ValueError("no labelled queries")
    return sum(1 for p, g in zip(predicted, gold, strict=True) if p == g) / len(gold)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)


@dataclass(frozen=True)
class Abstention:
    """precision: abstentions that were right (out of scope); recall: out-of-scope queries abstained;
    in_scope_kept: in-scope queries answered (not abstained)."""

    precision: float
    recall: float
    in_scope_kept: float


def abstention(abstained: Sequence[bool], out_of_scope: Sequence[bool]) -> Abstention:
    """Abstention quality; precision is 1.0 by convention when nothing was abstained on."""
    if len(abstained) != len(out_of_scope):
        raise ValueError("abstained and out_of_scope differ in length")
    right = sum(1 for a, o in zip(abstained, out_of_scope, strict=True) if a and o)
    total_abstained = sum(abstained)
    total_oos = sum(out_of_scope)
    in_scope = len(out_of_scope) - total_oos
    kept = sum(1 for a, o in zip(abstained, out_of_scope, strict=True) if not a and not o)
    return Abstention(
        precision=right / total_abstained if total_abstained else 1.0,
        recall=right / total_oos if total_oos else 0.0,
        in_scope_kept=kept / in_scope if in_scope else 0.0,
    )


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    oos_abstained: float
    in_scope_kept: float
    in_scope_recall: float  # in-scope queries answered *and* right within k


def threshold_curve(
    confidences: Sequence[float], out_of_scope: Sequence[bool], hits: Sequence[bool], *, points: int = 200
) -> list[ThresholdPoint]:
    """Abstain-below-threshold trade-off at candidate thresholds (the distinct confidences, thinned).

    `hits[i]` says whether in-scope query i is answered right (e.g. relevant in top 3) when not abstained.
    """
    n = len(confidences)
    if not (n == len(out_of_scope) == len(hits)):
        raise ValueError("confidences, out_of_scope and hits differ in length")
    candidates = sorted(set(confidences))
    if len(candidates) > points:
        step = len(candidates) / points
        candidates = sorted({candidates[int(i * step)] for i in range(points)} | {candidates[-1]})
    # Sorted confidences + bisect keep this O(n log n): calibration sweeps thousands of thresholds.
    kept_sorted = sorted(c for c, o in zip(confidences, out_of_scope, strict=True) if not o)
    right_sorted = sorted(c for c, o, h in zip(confidences, out_of_scope, hits, strict=True) if not o and h)
    oos_sorted = sorted(c for c, o in zip(confidences, out_of_scope, strict=True) if o)
    n_in, n_oos = len(kept_sorted), len(oos_sorted)
    curve = []
    for threshold in [*candidates, candidates[-1] + 1e-9] if candidates else []:
        curve.append(
            ThresholdPoint(
                threshold=threshold,
                oos_abstained=bisect_left(oos_sorted, threshold) / n_oos if n_oos else 0.0,
                in_scope_kept=(n_in - bisect_left(kept_sorted, threshold)) / n_in if n_in else 0.0,
                in_scope_recall=(len(right_sorted) - bisect_left(right_sorted, threshold)) / n_in
                if n_in
                else 0.0,
            )
        )
    return curve


def best_threshold(
    confidences: Sequence[float],
    out_of_scope: Sequence[bool],
    hits: Sequence[bool],
    *,
    min_in_scope: float = 0.95,
    constraint: str = "recall",
) -> ThresholdPoint:
    """The threshold that abstains on most out-of-scope queries while in-scope quality stays ≥ min_in_scope.

    constraint "recall": in-scope queries answered and right (recall@k after abstention) ≥ min_in_scope;
    constraint "kept": in-scope queries answered at all ≥ min_in_scope. Ties go to the lower threshold,
    which answers more customers. When even abstaining on nothing misses the constraint, that point is
    returned (abstention off) rather than a threshold that hurts in-scope customers further.
    """
    if constraint not in ("recall", "kept"):
        raise ValueError("constraint must be 'recall' or 'kept'")
    curve = threshold_curve(confidences, out_of_scope, hits, points=2000)
    if not curve:
        raise ValueError("no queries to calibrate on")

    def quality(p: ThresholdPoint) -> float:
        return p.in_scope_recall if constraint == "recall" else p.in_scope_kept

    feasible = [p for p in curve if quality(p) >= min_in_scope]
    if not feasible:
        return curve[0]
    return max(feasible, key=lambda p: (p.oos_abstained, -p.threshold))


def bootstrap_ci(
    values: Sequence[float],
    *,
    statistic: Callable[[Sequence[float]], float] = mean,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over per-query values (seeded, so reports are stable)."""
    if not values:
        raise ValueError("bootstrap of nothing")
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(statistic([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low = stats[int(math.floor(tail * (resamples - 1)))]
    high = stats[int(math.ceil((1.0 - tail) * (resamples - 1)))]
    return low, high


# Precision, recall and F1 have one convention in this project: a ratio whose denominator is zero
# is undefined and reported as None, never as a flattering 1.0 or a damning 0.0 (precision with no
# positive prediction, recall with no positive case, F1 with neither). Callers that need a number
# (a threshold search) decide themselves what an undefined value is worth.


@dataclass
class Confusion:
    """Counts for one binary decision (e.g. one rule code) over a set of cases."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, *, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    def __iadd__(self, other: Confusion) -> Confusion:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self


def safe_ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when undefined (nothing to divide by)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class PRF:
    precision: float | None
    recall: float | None
    f1: float | None
    tp: int
    fp: int
    fn: int

    def as_dict(self, digits: int | None = None) -> dict[str, float | int | None]:
        def fmt(value: float | None) -> float | None:
            return None if value is None or digits is None else round(value, digits)

        values = (self.precision, self.recall, self.f1)
        shown = values if digits is None else tuple(fmt(v) for v in values)
        return {
            "precision": shown[0],
            "recall": shown[1],
            "f1": shown[2],
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def prf(tp: int, fp: int, fn: int) -> PRF:
    """Precision, recall and F1 from counts.

    Args:
        tp, fp, fn: true positives, false positives, false negatives.

    Returns:
        A PRF; each of precision, recall and F1 is None when undefined (see the convention above).
    """
    return PRF(
        precision=safe_ratio(tp, tp + fp),
        recall=safe_ratio(tp, tp + fn),
        f1=safe_ratio(2 * tp, 2 * tp + fp + fn),
        tp=tp,
        fp=fp,
        fn=fn,
    )


def prf_of(predicted: Sequence[bool], gold: Sequence[bool]) -> PRF:
    """P/R/F1 of boolean predictions against boolean gold labels."""
    pairs = list(zip(predicted, gold, strict=True))
    return prf(
        tp=sum(p and g for p, g in pairs),
        fp=sum(p and not g for p, g in pairs),
        fn=sum(g and not p for p, g in pairs),
    )


def precision_recall_f1(counts: Confusion) -> dict[str, float | None]:
    """``{"precision", "recall", "f1"}`` of one decision's counts (None when undefined)."""
    result = prf(counts.tp, counts.fp, counts.fn)
    return {"precision": result.precision, "recall": result.recall, "f1": result.f1}


def duplicate_prf(predicted: Iterable[tuple[str, str]], gold: Iterable[tuple[str, str]]) -> PRF:
    """P/R/F1 of predicted duplicate pairs against gold duplicate pairs; (a, b) and (b, a) are one pair."""
    pred = {frozenset(p) for p in predicted if p[0] != p[1]}
    want = {frozenset(p) for p in gold if p[0] != p[1]}
    return prf(tp=len(pred & want), fp=len(pred - want), fn=len(want - pred))


def pr_curve(
    scores: Sequence[float], positive: Sequence[bool], *, points: int = 100
) -> list[tuple[float, PRF]]:
    """Precision/recall when predicting positive at score ≥ threshold, over the distinct scores (thinned)."""
    if len(scores) != len(positive):
        raise ValueError("scores and labels differ in length")
    candidates = sorted(set(scores))
    if len(candidates) > points:
        step = len(candidates) / points
        candidates = sorted({candidates[int(i * step)] for i in range(points)} | {candidates[-1]})
    out = []
    for threshold in candidates:
        tp = sum(1 for s, p in zip(scores, positive, strict=True) if s >= threshold and p)
        fp = sum(1 for s, p in zip(scores, positive, strict=True) if s >= threshold and not p)
        fn = sum(1 for s, p in zip(scores, positive, strict=True) if s < threshold and p)
        out.append((threshold, prf(tp, fp, fn)))
    return out


def fmt3(value: object) -> str:
    """A figure for a text table: three decimals, "-" where it is undefined (no prediction, no positive)."""
    return f"{value:.3f}" if isinstance(value, float) else ("-" if value is None else str(value))
