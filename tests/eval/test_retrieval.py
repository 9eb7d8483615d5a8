"""Retrieval evaluation end to end on a tiny corpus with the model-free hashing encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.calibration import calibrated_threshold
from eval.datasets import Query, Ticket
from eval.retrieval import build_corpus, evaluate
from indexing.engine import SearchEngine
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.support.encoders import HashingEncoder

# In-process commands build their encoders with the hashing loader (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hashing_cli")

TOPICS = {
    "card_arrival": [
        "my new card has not arrived",
        "still waiting for my card to arrive",
        "card delivery late",
    ],
    "refund": ["i want my money back refund", "refund not received yet", "how long does a refund take"],
    "pin": ["forgot my pin number", "reset the pin code", "pin is blocked after wrong tries"],
}


def _tickets() -> list[Ticket]:
    return [
        Ticket(id=f"{label}-{i}", text=text, channel="web", locale="en", tags=(label,))
        for label, texts in TOPICS.items()
        for i, text in enumerate(texts)
    ]


def _engine() -> SearchEngine:
    return SearchEngine(encoder=HashingEncoder(), session_factory=None, snapshot_dir=None)


def test_label_queries_rank_the_right_label_and_abstain_on_nonsense() -> None:
    queries = [
        Query(id="q1", text="card has not arrived", label="card_arrival"),
        Query(id="q2", text="refund not received", label="refund"),
        Query(id="q3", text="pin blocked", label="pin"),
        Query(id="q4", text="zebra xylophone quantum", locale="de"),
    ]
    calib = [
        Query(id="c1", text="waiting for my card", label="card_arrival"),
        Query(id="c2", text="reset pin", label="pin"),
        Query(id="c3", text="volcano penguin", label=None),
    ]
    run = evaluate(_engine(), queries=queries, tickets=_tickets(), calibrate_on=calib)
    payload = run.to_json()
    assert set(payload) == {"systems", "slices"}
    assert set(payload["systems"]) == {"hybrid", "dense", "bm25"}
    hybrid = payload["systems"]["hybrid"]
    assert hybrid["recall@1"] == 1.0 and hybrid["recall@3"] == 1.0 and hybrid["mrr@10"] == 1.0
    assert hybrid["label_accuracy"] == 1.0
    assert hybrid["in_scope"] == 3 and hybrid["out_of_scope"] == 1
    assert hybrid["abstention_recall"] == 1.0
    outcomes = next(r for r in run.results if r.spec.name == "hybrid").outcomes
    kept = sum(1 for o in outcomes if not o.query.out_of_scope and o.confidence >= hybrid["threshold"])
    assert hybrid["in_scope_kept"] == pytest.approx(kept / 3)
    assert hybrid["threshold"] == run.calibration["hybrid"]["threshold"]
    assert set(payload["slices"]["locale"]) == {"en", "de"}
    assert payload["slices"]["locale"]["de"]["hybrid"]["out_of_scope"] == 1
    assert len(hybrid["ci95"]["recall@1"]) == 2
    json.dumps(payload)  # serialisable as written by the CLI


def test_article_queries_group_chunks_and_respect_channel() -> None:
    articles = [
        ArticleCreate(
            id="kb-return-amazon",
            title="Returns on Amazon",
            body="Start the return in your Amazon orders.",
            locale="en",
            channels=["amazon"],
            tags=["return_label"],
        ),
        ArticleCreate(
            id="kb-return-shop",
            title="Returns in our shop",
            body="Print the return label from the shop.",
            locale="en",
            channels=["shopify"],
            tags=["return_label"],
        ),
        ArticleCreate(
            id="kb-tracking",
            title="Tracking your parcel",
            body="## Where is it\nUse the tracking link.",
            locale="en",
            channels=[],
            tags=["tracking"],
        ),
    ]
    queries = [
        Query(id="q1", text="how do I return an item", channel="amazon", relevant=("kb-return-amazon",)),
        Query(id="q2", text="return label", channel="shopify", relevant=("kb-return-shop",)),
        Query(id="q3", text="where is my parcel tracking", channel="amazon", relevant=("kb-tracking",)),
    ]
    run = evaluate(_engine(), queries=queries, articles=articles, stored_threshold=0.0)
    hybrid = next(r for r in run.results if r.spec.name == "hybrid")
    ranked = {o.query.id: o.ranked for o in hybrid.outcomes}
    assert "kb-return-shop" not in ranked["q1"]  # Shopify-only article never shown to an Amazon buyer
    assert "kb-return-amazon" not in ranked["q2"]
    assert ranked["q3"][0] == "kb-tracking"
    assert hybrid.metrics["recall@1"] == 1.0
    assert set(run.to_json()["slices"]["channel"]) == {"amazon", "shopify"}


def test_label_head_is_trained_only_with_two_labels() -> None:
    engine = _engine()
    assert build_corpus(engine, tickets=_tickets()).head is not None
    one = [Ticket(id="a", text="x y", channel=None, locale="en", tags=("only",))]
    assert build_corpus(engine, tickets=one).head is None
    with pytest.raises(ValueError):
        build_corpus(engine)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_cli_retrieval_and_calibrate_store_the_threshold(
    tmp_path: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap import app

    monkeypatch.setenv("DEFLECT_DATA_DIR", str(runtime.settings.data_dir))
    from core.settings import get_settings

    get_settings.cache_clear()
    tickets = _write(
        tmp_path / "t.jsonl",
        [{"id": t.id, "channel": "web", "body": t.text, "tags": list(t.tags)} for t in _tickets()],
    )
    queries = _write(
        tmp_path / "q.jsonl",
        [
            {"id": "q1", "text": "card has not arrived", "label": "card_arrival"},
            {"id": "q2", "text": "zebra xylophone"},
        ],
    )
    calib = _write(
        tmp_path / "v.jsonl",
        [
            {"id": "v1", "text": "refund not received", "label": "refund"},
            {"id": "v2", "text": "volcano penguin"},
        ],
    )
    out = tmp_path / "out.json"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "eval",
            "retrieval",
            "--tickets",
            str(tickets),
            "--queries",
            str(queries),
            "--calibrate-on",
            str(calib),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert set(json.loads(out.read_text())["systems"]) == {"hybrid", "dense", "bm25"}

    same = runner.invoke(
        app,
        [
            "eval",
            "retrieval",
            "--tickets",
            str(tickets),
            "--queries",
            str(queries),
            "--calibrate-on",
            str(queries),
            "--json",
            str(out),
        ],
    )
    assert same.exit_code == 2

    bad = _write(tmp_path / "bad.jsonl", [{"id": "x", "text": "ok"}])
    bad.write_text(bad.read_text() + "{oops\n", encoding="utf-8")
    broken = runner.invoke(
        app,
        ["eval", "retrieval", "--tickets", str(tickets), "--queries", str(bad), "--json", str(out)],
    )
    assert broken.exit_code == 2 and "bad.jsonl:2" in broken.output.replace("\n", "")

    stored = runner.invoke(
        app,
        ["eval", "calibrate", "--queries", str(calib), "--tickets", str(tickets), "--tenant", "acme"],
    )
    assert stored.exit_code == 0, stored.output
    with runtime.session() as session:
        threshold = calibrated_threshold(
            session, tenant_id="acme", collection="tickets", encoder="hashing", default=-5.0
        )
    assert threshold != -5.0, stored.output
    get_settings.cache_clear()


def test_without_a_stored_threshold_each_query_abstains_on_its_languages_cut_off() -> None:
    from eval.retrieval import QueryOutcome, score

    outcomes = [
        # French cut-off 0.5: 0.45 abstains; English cut-off 0.3: 0.45 is kept.
        QueryOutcome(Query("q1", "colis", "fr", relevant=("a",)), ["a"], confidence=0.45, cutoff=0.5),
        QueryOutcome(Query("q2", "parcel", "en", relevant=("a",)), ["a"], confidence=0.45, cutoff=0.3),
        QueryOutcome(Query("q3", "bitcoin", "en"), ["a"], confidence=0.2, cutoff=0.3),
    ]
    metrics = score(outcomes, None, with_ci=False)
    assert metrics["threshold"] == "per-language"
    assert metrics["in_scope_kept"] == 0.5 and metrics["abstention_recall"] == 1.0
    # A stored threshold (a tenant's calibration) still applies to every language.
    assert score(outcomes, 0.4, with_ci=False)["in_scope_kept"] == 1.0
