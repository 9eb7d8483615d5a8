"""Quality targets on the public sets (slow: real encoders, tens of thousands of texts on 2 cores).

Run with `pytest -m slow tests/eval/test_quality_slow.py`; skipped where ../shared/data is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets import read_articles, read_queries, read_tickets
from eval.engines import make_engine
from eval.retrieval import evaluate

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"

pytestmark = pytest.mark.slow


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


def test_banking77_beats_the_nearest_neighbour_baseline() -> None:
    folder = _need(DATA / "banking77")
    run = evaluate(
        make_engine("use+minilm"),
        queries=read_queries(folder / "queries.jsonl"),
        tickets=read_tickets(folder / "tickets.jsonl"),
        stored_threshold=None,
    )
    systems = {r.spec.name: r.metrics for r in run.results}
    assert systems["hybrid"]["recall@1"] >= 0.93 and systems["hybrid"]["recall@3"] >= 0.985
    assert systems["hybrid"]["recall@1"] > systems["dense"]["recall@1"] > systems["bm25"]["recall@1"]


def test_clinc150_abstains_on_out_of_scope_with_a_validation_threshold() -> None:
    folder = _need(DATA / "clinc150")
    run = evaluate(
        make_engine("use+minilm"),
        queries=read_queries(folder / "queries_test.jsonl"),
        tickets=read_tickets(folder / "tickets.jsonl"),
        calibrate_on=read_queries(folder / "queries_val.jsonl"),
    )
    ours = next(r.metrics for r in run.results if r.spec.name == "hybrid")
    assert ours["recall@3"] >= 0.975
    assert ours["abstention_recall"] >= 0.85 and ours["in_scope_kept"] >= 0.95


def test_demo_set_recall_at_3_per_language() -> None:
    run = evaluate(
        make_engine(None, articles=True),
        queries=read_queries(ROOT / "demo" / "queries.jsonl"),
        articles=read_articles(ROOT / "demo" / "articles.jsonl"),
        stored_threshold=0.0,
    )
    slices = run.to_json()["slices"]["locale"]
    for locale, systems in slices.items():
        assert systems["hybrid"]["recall@3"] >= 0.9, (locale, systems["hybrid"]["recall@3"])
