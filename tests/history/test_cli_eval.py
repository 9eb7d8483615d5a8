from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.history import import_app
from core.settings import get_settings
from eval.duplicates import best_threshold, prf, run
from tests.conftest import DEMO
from tests.support.encoders import hashing_encoders

# In-process commands build their encoders with the hashing loader (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hashing_cli")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_import_reports_file_and_line_and_writes_nothing(cli_env: Path) -> None:
    bad = cli_env / "orders.jsonl"
    lines = (DEMO / "orders.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    lines.insert(1, json.dumps({"order_id": "x y", "channel": "amazon"}))
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(import_app, ["orders", str(bad), "--tenant", "t1"])
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output.replace("\n", "") and "order_id" in result.output
    ok = runner.invoke(import_app, ["orders", str(DEMO / "orders.jsonl"), "--tenant", "t1"])
    assert ok.exit_code == 0 and "0 updated" in ok.output
    assert (
        ok.output.split(":")[1].strip().startswith(str(len((DEMO / "orders.jsonl").read_text().splitlines())))
    )


def test_metrics_and_threshold_choice() -> None:
    assert prf([True, True, False, False], [True, False, True, False]) == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "tp": 1,
        "fp": 1,
        "fn": 1,
    }
    assert best_threshold([0.9, 0.8, 0.3, 0.2], [True, True, False, False]) == 0.8


def test_duplicate_eval_beats_exact_match_baseline_on_demo(tmp_path: Path) -> None:
    result = run(
        tickets_path=DEMO / "tickets.jsonl",
        pairs_path=DEMO / "duplicate_pairs.jsonl",
        orders_path=DEMO / "orders.jsonl",
        encoder="use+minilm",
        encoders=hashing_encoders,
    )
    assert result["pairs"] >= 100
    assert result["method_cross_validated"]["f1"] > result["baseline_exact_email_or_order"]["f1"] + 0.1
    assert result["method"]["precision"] >= 0.9
