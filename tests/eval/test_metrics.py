"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import pytest

from eval import metrics as m


def test_distinct_keeps_first_occurrence_order() -> None:
    assert m.distinct(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_recall_at_k_counts_any_relevant_in_top_k() -> None:
    ranked = ["x", "y", "z", "w"]
    assert m.recall_at_k(ranked, {"z"}, 1) == 0.0
    assert m.recall_at_k(ranked, {"z"}, 3) == 1.0
    assert m.recall_at_k(ranked, {"q", "y"}, 2) == 1.0
    with pytest.raises(ValueError):
        m.recall_at_k(ranked, set(), 3)


def test_mrr_uses_first_relevant_rank_within_cutoff() -> None:
    assert m.mrr_at_k(["a", "b", "c"], {"c", "b"}) == 0.5
    assert m.mrr_at_k(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert m.mrr_at_k(["c"], {"c"}) == 1.0


def test_ndcg_binary_gain_by_hand() -> None:
    # relevant at ranks 2 and 3 of two relevant: DCG = 1/log2(3) + 1/log2(4); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(["a", "b", "c"], {"b", "c"}) == pytest.approx(expected)
    assert m.ndcg_at_k(["b", "c"], {"b", "c"}) == pytest.approx(1.0)
    # one relevant at rank 2: 1/log2(3) = 0.6309
    assert m.ndcg_at_k(["a", "b"], {"b"}) == pytest.approx(0.63093, abs=1e-5)


def test_label_accuracy() -> None:
    assert m.label_accuracy(["a", None, "c", "d"], ["a", "b", "c", "x"]) == 0.5
    with pytest.raises(ValueError):
        m.label_accuracy(["a"], ["a", "b"])


def test_abstention_precision_recall_and_kept() -> None:
    # 3 out-of-scope (first three), 5 in scope; abstained on 2 oos + 1 in-scope
    abstained = [True, True, False, True, False, False, False, False]
    oos = [True, True, True, False, False, False, False, False]
    a = m.abstention(abstained, oos)
    assert a.precision == pytest.approx(2 / 3)
    assert a.recall == pytest.approx(2 / 3)
    assert a.in_scope_kept == pytest.approx(4 / 5)
    assert m.abstention([False, False], [True, False]).precision == 1.0


def test_threshold_curve_and_best_threshold_by_hand() -> None:
    confidences = [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9]
    oos = [True, True, True, False, False, True, False, False]
    hits = [False, False, False, False, True, False, True, True]
    curve = {round(p.threshold, 6): p for p in m.threshold_curve(confidences, oos, hits)}
    at_05 = curve[0.5]
    assert at_05.oos_abstained == pytest.approx(3 / 4)
    assert at_05.in_scope_kept == 1.0
    assert at_05.in_scope_recall == pytest.approx(3 / 4)
    at_06 = curve[0.6]
    assert at_06.in_scope_kept == pytest.approx(3 / 4)
    assert at_06.in_scope_recall == pytest.approx(3 / 4)
    # recall >= 0.75 holds up to 0.7; 0.6 and 0.7 abstain no more oos than 0.5, so the lower threshold wins
    best = m.best_threshold(confidences, oos, hits, min_in_scope=0.75)
    assert best.threshold == pytest.approx(0.5)
    # at 0.8 every oos is abstained (4/4) while recall and kept drop to 2/4
    assert m.best_threshold(confidences, oos, hits, min_in_scope=0.5).threshold == pytest.approx(0.8)
    # "kept" counts answered queries, right or wrong: the wrong 0.5 answer still counts as kept
    no_hits = [False] * len(hits)
    assert m.best_threshold(
        confidences, oos, no_hits, min_in_scope=0.5, constraint="kept"
    ).threshold == pytest.approx(0.8)
    assert m.best_threshold(confidences, oos, no_hits, min_in_scope=0.5).oos_abstained == 0.0
    # infeasible: nothing abstained
    assert m.best_threshold(confidences, oos, hits, min_in_scope=0.99).oos_abstained == 0.0


def test_bootstrap_ci_contains_mean_and_is_deterministic() -> None:
    values = [1.0] * 90 + [0.0] * 10
    low, high = m.bootstrap_ci(values, resamples=500)
    assert low < 0.9 < high
    assert 0.8 < low and high < 0.97
    assert m.bootstrap_ci(values, resamples=500) == (low, high)
    assert m.bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_prf_and_duplicate_pairs_are_order_free() -> None:
    result = m.duplicate_prf(
        [("a", "b"), ("c", "d"), ("e", "f")], [("b", "a"), ("d", "c"), ("g", "h"), ("i", "j")]
    )
    assert (result.tp, result.fp, result.fn) == (2, 1, 2)
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(0.5)
    assert result.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert m.prf(0, 0, 0).f1 is None  # undefined, not a flattering 1.0
    assert m.prf(0, 2, 0).precision == 0.0 and m.prf(0, 2, 0).recall is None


def test_pr_curve_thresholds() -> None:
    curve = dict(m.pr_curve([0.9, 0.8, 0.3, 0.1], [True, False, True, False]))
    assert curve[0.8].precision == 0.5 and curve[0.8].recall == 0.5
    assert curve[0.3].precision == pytest.approx(2 / 3) and curve[0.3].recall == 1.0
    assert curve[0.9].precision == 1.0 and curve[0.9].recall == 0.5
