"""Leave-one-shop-out choice of the drafts' question classifier (eval/questions.py), without a model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.eval import app as eval_app
from eval.questions import Request, Setting, choose, dev_shops, figures, run_loso
from tests.support.encoders import HashingEncoder


def test_figures_count_full_detection_and_extras() -> None:
    requests = [
        Request("a", "x", "en", frozenset({"tracking", "invoice"})),
        Request("b", "y", "de", frozenset({"refund_status"})),
    ]
    found = [frozenset({"tracking", "invoice", "cancellation"}), frozenset({"tracking"})]
    row = figures(requests, found)
    assert row["fully_detected"] == 0.5
    assert row["topic_recall"] == round(2 / 3, 4)
    assert row["extra_per_request"] == 1.0  # one extra in each request
    assert row["objective"] == 0.25


def test_choose_never_looks_at_the_held_out_shop() -> None:
    good_elsewhere = Setting(True, 4.0, 0.5, "fallback")
    good_on_held_out = Setting(False, 1.0, 0.3, "all")
    scores = {
        good_elsewhere: {"a": 0.9, "b": 0.8, "held": 0.1},
        good_on_held_out: {"a": 0.5, "b": 0.6, "held": 1.0},
    }
    assert choose(scores, ["a", "b"]) == good_elsewhere
    assert choose(scores, ["held"]) == good_on_held_out


def test_choose_breaks_ties_towards_the_higher_floor() -> None:
    low, high = Setting(False, 4.0, 0.3, "fallback"), Setting(False, 4.0, 0.6, "fallback")
    assert choose({low: {"a": 0.5}, high: {"a": 0.5}}, ["a"]) == high


def _shop(folder: Path, requests: list[dict[str, object]], tickets: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True)
    (folder / "draft_requests.jsonl").write_text("\n".join(json.dumps(r) for r in requests), encoding="utf-8")
    (folder / "tickets.jsonl").write_text("\n".join(json.dumps(t) for t in tickets), encoding="utf-8")


def test_run_loso_scores_every_shop_with_a_setting_chosen_on_the_others(tmp_path: Path) -> None:
    for name, word in (("alpha", "parcel"), ("beta", "package"), ("gamma", "delivery")):
        _shop(
            tmp_path / name,
            [
                {
                    "id": "1",
                    "text": f"Where is my {word}? Thanks!",
                    "locale": "en",
                    "expected_topics": ["tracking"],
                },
                {
                    "id": "2",
                    "text": "I want a refund please.",
                    "locale": "en",
                    "expected_topics": ["refund_status"],
                },
            ],
            [{"tags": ["tracking"], "subject": "", "body": f"My {word} has not moved for a week."}],
        )
    shops = dev_shops(tmp_path)
    assert [s.name for s in shops] == ["alpha", "beta", "gamma"]
    assert shops[0].tickets == [(("tracking",), "My parcel has not moved for a week.")]
    result = run_loso(shops, HashingEncoder(), cs=(4.0,), floors=(0.4, 0.6))
    assert [f["held_out"] for f in result["folds"]] == ["alpha", "beta", "gamma"]
    for fold in result["folds"]:
        assert fold["chosen"].startswith("head C=")
        assert fold["head"]["requests"] == 2 and fold["baseline"]["requests"] == 2
        assert set(fold["head_by_locale"]) == {"en"}
    # The patterns alone find both requests of every shop, whatever the head's setting.
    assert result["pooled"]["baseline"]["fully_detected"] == 1.0


def test_the_cli_names_every_folder_that_holds_too_few_shops(tmp_path: Path) -> None:
    first, second = tmp_path / "devshops", tmp_path / "devdrafts"
    first.mkdir()
    second.mkdir()
    result = CliRunner().invoke(eval_app, ["questions", "--shops", str(first), "--shops", str(second)])
    assert result.exit_code == 2
    assert str(first) in result.output and str(second) in result.output
