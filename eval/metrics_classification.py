"""Precision, recall and F1 over confusion counts (pure functions, JSON-friendly output)."""

from __future__ import annotations

from dataclasses import dataclass


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


def precision_recall_f1(counts: Confusion) -> dict[str, float | None]:
    """Precision, recall and F1 of ``counts``.

    Args:
        counts: true/false positives and false negatives of one decision.

    Returns:
        ``{"precision", "recall", "f1"}``; a value is None when undefined (precision with no
        positive prediction, recall with no positive case, F1 with neither) rather than a
        misleading 0 or 1.
    """
    return {
        "precision": safe_ratio(counts.tp, counts.tp + counts.fp),
        "recall": safe_ratio(counts.tp, counts.tp + counts.fn),
        "f1": safe_ratio(2 * counts.tp, 2 * counts.tp + counts.fp + counts.fn),
    }
