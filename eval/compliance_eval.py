"""Compliance evaluation: per-rule precision/recall of the checker beside a naive regex baseline."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compliance.channels import get_ruleset
from compliance.schemas import RULE_CODES
from compliance.service import check
from core.errors import InvalidInputError
from core.jsonl import read_jsonl_numbered
from core.schemas import CHANNELS
from eval.metrics import Confusion, precision_recall_f1, safe_ratio

# rule code -> evidence (offending text) for each rule the system flags in one case
Prediction = dict[str, list[str]]
Predictor = Callable[[str, str], Prediction]

EXCERPT_CHARS = 160

# The baseline a team would write in an afternoon: one plain regex per easy rule.
_NAIVE_PATTERNS: dict[str, re.Pattern[str]] = {
    "external_link": re.compile(r"https?://\S+", re.IGNORECASE),
    "email_address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "phone_number": re.compile(r"\+?\d[\d \-]{7,}\d"),
    "review_manipulation": re.compile(r"\breviews?\b", re.IGNORECASE),
    "promotion": re.compile(r"\b(?:coupons?|discounts?)\b", re.IGNORECASE),
}


def predict_deflect(text: str, channel: str) -> Prediction:
    result = check(text, channel=channel)
    prediction: Prediction = {}
    for violation in result.violations:
        prediction.setdefault(violation.rule, []).append(violation.text)
    return prediction


def predict_naive_regex(text: str, channel: str) -> Prediction:
    # Channel rules still apply, so the comparison isolates detection quality.
    enabled = get_ruleset(channel).rules
    prediction: Prediction = {}
    for rule, pattern in _NAIVE_PATTERNS.items():
        if rule in enabled:
            found = [m.group(0) for m in pattern.finditer(text)]
            if found:
                prediction[rule] = found
    return prediction


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def _validate(cases: list[dict[str, Any]]) -> None:
    for index, case in enumerate(cases):
        where = f"case {case.get('id', index)!r}"
        if not isinstance(case.get("text"), str):
            raise InvalidInputError(f"{where}: 'text' must be a string")
        if case.get("channel") not in CHANNELS:
            raise InvalidInputError(f"{where}: 'channel' must be one of {', '.join(CHANNELS)}")
        unknown = set(case.get("violations") or []) - set(RULE_CODES)
        if unknown:
            raise InvalidInputError(f"{where}: unknown rule code(s) {sorted(unknown)}")


def _score(cases: list[dict[str, Any]], predict: Predictor) -> dict[str, Any]:
    per_rule = {rule: Confusion() for rule in RULE_CODES}
    false_positives: list[dict[str, Any]] = []
    false_negatives: list[dict[str, Any]] = []
    pass_correct = exact_correct = 0
    started = time.perf_counter()
    for index, case in enumerate(cases):
        case_id = str(case.get("id", index))
        gold = set(case.get("violations") or [])
        prediction = predict(case["text"], case["channel"])
        predicted = set(prediction)
        pass_correct += (not predicted) == (not gold)
        exact_correct += predicted == gold
        for rule in RULE_CODES:
            per_rule[rule].add(predicted=rule in predicted, actual=rule in gold)
            if rule in predicted and rule not in gold:
                false_positives.append(
                    {
                        "id": case_id,
                        "channel": case["channel"],
                        "rule": rule,
                        "flagged": prediction[rule],
                        "text": _excerpt(case["text"]),
                    }
                )
            elif rule in gold and rule not in predicted:
                false_negatives.append(
                    {"id": case_id, "channel": case["channel"], "rule": rule, "text": _excerpt(case["text"])}
                )
    elapsed_ms = (time.perf_counter() - started) * 1000
    overall = Confusion()
    for counts in per_rule.values():
        overall += counts
    return {
        "per_rule": {
            rule: {
                **precision_recall_f1(counts),
                "support": counts.tp + counts.fn,
                "confusion": {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn, "tn": counts.tn},
            }
            for rule, counts in per_rule.items()
        },
        "micro": {
            **precision_recall_f1(overall),
            "confusion": {"tp": overall.tp, "fp": overall.fp, "fn": overall.fn, "tn": overall.tn},
        },
        "case_pass_accuracy": safe_ratio(pass_correct, len(cases)),
        "case_exact_match": safe_ratio(exact_correct, len(cases)),
        "false_positives": false_positives,
        "false_negatives": false_negatives,
        "mean_ms_per_case": elapsed_ms / len(cases) if cases else None,
    }


def evaluate_compliance(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Score the compliance checker and the naive regex baseline on labelled cases.

    Args:
        cases: ``{"id", "channel", "text", "violations": [rule codes]}`` dicts
            (compliance_cases.jsonl in DATA_FORMATS.md); an empty list of violations means compliant.

    Returns:
        ``{"cases": n, "systems": {"deflect": report, "naive_regex": report}}`` where each
        report has per-rule precision/recall/F1/support/confusion, micro averages over all
        (case, rule) decisions, case-level pass accuracy (compliant vs not) and exact-match
        accuracy, and the false positives and negatives with an excerpt of the text.
    """
    _validate(cases)
    systems: dict[str, Predictor] = {"deflect": predict_deflect, "naive_regex": predict_naive_regex}
    return {
        "cases": len(cases),
        "systems": {name: _score(cases, predict) for name, predict in systems.items()},
    }


def load_compliance_cases(path: Path) -> list[dict[str, Any]]:
    """Read compliance_cases.jsonl; any bad line rejects the file with every (file, line, reason)."""

    def parse(record: dict[str, Any], line: int) -> dict[str, Any]:
        record.setdefault("id", f"line-{line}")
        try:
            _validate([record])
        except InvalidInputError as exc:
            raise ValueError(exc.message) from exc
        return record

    return read_jsonl_numbered(path, parse)
