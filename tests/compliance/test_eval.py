"""Compliance evaluation on a small hand-scored case set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ImportFileError, InvalidInputError
from eval.compliance_eval import evaluate_compliance, load_compliance_cases
from eval.metrics import Confusion, precision_recall_f1

CASES = [
    # both systems flag the link
    {"id": "c1", "channel": "amazon", "text": "See https://shop.example/x", "violations": ["external_link"]},
    # only Deflect sees the disguised address, and that giving it invites contact off Amazon
    {
        "id": "c2",
        "channel": "amazon",
        "text": "Write to bob [at] shop dot com",
        "violations": ["email_address", "off_platform"],
    },
    # neutral: the baseline's "review" word is a false positive
    {"id": "c3", "channel": "amazon", "text": "We will review your request today.", "violations": []},
    # labelled emoji; neither system is given a chance to miss it except the baseline
    {"id": "c4", "channel": "amazon", "text": "Thanks 😊", "violations": ["emoji"]},
]


def test_precision_recall_f1_from_counts() -> None:
    assert precision_recall_f1(Confusion(tp=3, fp=1, fn=2)) == {"precision": 0.75, "recall": 0.6, "f1": 6 / 9}
    assert precision_recall_f1(Confusion()) == {"precision": None, "recall": None, "f1": None}


def test_evaluate_compliance_scores_both_systems() -> None:
    report = evaluate_compliance(CASES)
    deflect = report["systems"]["deflect"]
    naive = report["systems"]["naive_regex"]
    assert report["cases"] == 4

    assert deflect["micro"]["confusion"] == {"tp": 4, "fp": 0, "fn": 0, "tn": 32}
    assert deflect["micro"]["precision"] == 1.0 and deflect["micro"]["recall"] == 1.0
    assert deflect["case_pass_accuracy"] == 1.0 and deflect["case_exact_match"] == 1.0
    assert deflect["false_positives"] == [] and deflect["false_negatives"] == []

    # naive: tp = link; fp = "review" in c3; fn = disguised e-mail, off-platform and emoji
    assert naive["micro"]["confusion"] == {"tp": 1, "fp": 1, "fn": 3, "tn": 31}
    assert naive["micro"]["precision"] == 0.5
    assert naive["micro"]["recall"] == 0.25
    assert naive["per_rule"]["email_address"]["recall"] == 0.0
    assert naive["per_rule"]["review_manipulation"]["precision"] == 0.0
    assert naive["per_rule"]["review_manipulation"]["recall"] is None
    assert naive["case_pass_accuracy"] == 0.25  # only c1 judged right: c2, c4 passed, c3 failed
    assert [(fp["id"], fp["rule"]) for fp in naive["false_positives"]] == [("c3", "review_manipulation")]
    assert sorted((fn["id"], fn["rule"]) for fn in naive["false_negatives"]) == [
        ("c2", "email_address"),
        ("c2", "off_platform"),
        ("c4", "emoji"),
    ]


def test_evaluate_compliance_rejects_unknown_rule_codes() -> None:
    with pytest.raises(InvalidInputError, match="spam"):
        evaluate_compliance([{"id": "x", "channel": "amazon", "text": "hi", "violations": ["spam"]}])


def test_load_compliance_cases_reports_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps(CASES[0]) + "\n[1]\n" + json.dumps({"id": "z", "channel": "etsy", "text": "x"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as caught:
        load_compliance_cases(path)
    assert [(e.line, e.reason.split(":")[0]) for e in caught.value.errors] == [
        (2, "expected a JSON object"),
        (3, "case 'z'"),
    ]


def test_checker_beats_the_naive_baseline_on_the_held_out_cases() -> None:
    # 97 replies in five languages from shops the rules were not tuned on when first scored
    # (micro F1 0.95 / 0.90 then); they now guard against regressions.
    cases = load_compliance_cases(Path(__file__).parent / "data" / "held_out_cases.jsonl")
    systems = evaluate_compliance(cases)["systems"]
    deflect, naive = systems["deflect"]["micro"], systems["naive_regex"]["micro"]
    assert deflect["precision"] >= 0.95 and deflect["recall"] >= 0.95
    assert deflect["f1"] > naive["f1"] + 0.5
