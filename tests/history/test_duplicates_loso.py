"""Language-aware duplicate scoring and the leave-one-shop-out choice of its defaults."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core.settings import ROOT
from eval.duplicates import PairExample, choose, dev_shops, pair_tickets, plateau_threshold, run_loso
from history.duplicates import (
    DEFAULT_THRESHOLD,
    DEFAULT_WEIGHTS,
    DuplicateWeights,
    PairFeatures,
    multilingual_part,
    pair_similarity,
    score_pair,
)
from runtime import Runtime
from tests.history.helpers import ingest, ticket
from tests.support.encoders import hashing_encoders

# In-process commands build their encoders with the hashing loader (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hashing_cli")

DEVSHOPS = ROOT / "devshops"


def _features(**overrides: object) -> PairFeatures:
    base: dict[str, object] = {
        "similarity": 0.5,
        "multilingual_similarity": 0.6,
        "languages": ("en", "en"),
        "shared_orders": ("#1001",),
        "distinct_orders": ((), ()),
        "same_customer": True,
        "link_kind": "order",
        "name_similarity": 1.0,
        "gap_days": 1.0,
        "tags_a": ("tracking",),
        "tags_b": ("tracking",),
        "human_tags": True,
        "reasons_a": (0.6, 0.2, 0.1),
        "reasons_b": (0.6, 0.2, 0.1),
    }
    base.update(overrides)
    return PairFeatures(**base)  # type: ignore[arg-type]


def test_multilingual_part_is_the_normalised_use_half_of_use_minilm() -> None:
    rng = np.random.default_rng(3)
    use, minilm = rng.standard_normal((2, 512)), rng.standard_normal((2, 384))
    use /= np.linalg.norm(use, axis=1, keepdims=True)
    minilm /= np.linalg.norm(minilm, axis=1, keepdims=True)
    concatenated = np.hstack([use * np.sqrt(0.5), minilm * np.sqrt(0.5)])
    part = multilingual_part("use+minilm", concatenated)
    assert part.shape == (2, 512)
    assert np.allclose(part, use, atol=1e-6)
    # Encoders that are multilingual (or not) as a whole keep their rows.
    assert multilingual_part("use-multilingual", use).shape == (2, 512)
    assert np.allclose(multilingual_part("hashing", concatenated), concatenated)


def test_similarity_kind_decides_which_cosine_is_scored() -> None:
    same = _features()
    cross = _features(languages=("fr", "en"))
    assert pair_similarity(same, "full")[0] == 0.5
    assert pair_similarity(same, "multilingual")[0] == 0.6
    assert pair_similarity(same, "language_aware")[0] == 0.5
    assert pair_similarity(cross, "language_aware") == (0.6, "multilingual cosine")


def test_human_tags_are_trusted_and_auto_tags_compared_by_profile() -> None:
    weights = replace(DEFAULT_WEIGHTS, topic_mismatch=0.4, profile_weight=0.5)
    match, _ = score_pair(_features(), window_days=14, weights=weights)
    mismatch, reasons = score_pair(_features(tags_b=("invoice",)), window_days=14, weights=weights)
    assert mismatch == pytest.approx(match * 0.4, abs=1e-3)
    assert "different reasons: tracking vs invoice" in reasons
    # Auto tags that disagree on the argmax but whose profiles agree keep the score...
    auto_close, auto_reasons = score_pair(
        _features(tags_b=("invoice",), human_tags=False), window_days=14, weights=weights
    )
    assert auto_close == pytest.approx(match, abs=1e-3)
    assert any(r.startswith("reason profiles agree 1.00") for r in auto_reasons)
    # ...and profiles pointing at different reasons lower it, never below 1 - profile_weight.
    apart, _ = score_pair(
        _features(reasons_b=(0.1, 0.2, 0.6), human_tags=False), window_days=14, weights=weights
    )
    assert match * 0.5 - 1e-3 <= apart < match * 0.6


def test_time_decay_and_different_orders_lower_the_score() -> None:
    weights = replace(DEFAULT_WEIGHTS, time_decay=0.75, different_orders=0.5)
    near, _ = score_pair(_features(gap_days=0.0), window_days=14, weights=weights)
    far, _ = score_pair(_features(gap_days=14.0), window_days=14, weights=weights)
    assert far == pytest.approx(near * 0.25, abs=1e-3)
    other_order, reasons = score_pair(
        _features(shared_orders=(), distinct_orders=(("#1",), ("#2",)), gap_days=0.0),
        window_days=14,
        weights=weights,
    )
    assert other_order < near * 0.5 and "about different orders: #1 vs #2" in reasons


def test_plateau_threshold_takes_the_middle_of_the_best_interval() -> None:
    scores = [0.9, 0.7, 0.3, 0.1]
    gold = [True, True, False, False]
    threshold, mean_f1 = plateau_threshold([(scores, gold)])
    # Any threshold in (0.3, 0.7] separates the pairs: the middle is 0.5.
    assert mean_f1 == 1.0 and threshold == 0.5


def test_plateau_threshold_stays_above_the_floor() -> None:
    # Every pair over 0.15 is a duplicate here, but the floor (what two strangers' identical words score)
    # keeps the threshold above 0.2: the best interval left is (0.2, 0.7].
    scores = [0.9, 0.7, 0.18, 0.1]
    gold = [True, True, True, False]
    threshold, _ = plateau_threshold([(scores, gold)], floor=0.2)
    assert threshold == 0.45


def _example(
    duplicate: bool, similarity: float, *, human: bool = True, mismatch: bool = False
) -> PairExample:
    features = _features(
        similarity=similarity,
        multilingual_similarity=similarity,
        tags_b=("invoice",) if mismatch else ("tracking",),
        human_tags=human,
    )
    return PairExample(a="a", b="b", duplicate=duplicate, language="en", baseline=True, features=features)


def test_choose_prefers_the_weighting_that_separates_the_pairs() -> None:
    # A same-customer negative with a high similarity but different human tags: only a strong
    # topic-mismatch penalty separates it from the lower-similarity duplicate.
    examples = [_example(True, 0.5), _example(False, 0.9, mismatch=True), _example(False, 0.2)]
    mild = replace(DEFAULT_WEIGHTS, topic_mismatch=0.9)
    strict = replace(DEFAULT_WEIGHTS, topic_mismatch=0.4)
    choice = choose([examples], 14, [mild, strict])
    assert choice.weights == strict and choice.mean_f1 == 1.0
    assert choose([examples], 14, [mild]).mean_f1 < 1.0


def test_a_shop_with_tickets_written_for_duplicates_is_scored_on_those(tmp_path: Path) -> None:
    shutil.copytree(DEVSHOPS / "bytenest", tmp_path / "bytenest")
    shutil.copytree(ROOT / "devdrafts" / "werkbank", tmp_path / "werkbank")
    shops = dev_shops(tmp_path)
    assert [s.name for s in shops] == ["bytenest", "werkbank"]
    assert pair_tickets(shops[0]).name == "tickets.jsonl"
    assert pair_tickets(shops[1]).name == "duplicate_tickets.jsonl"
    result = run_loso(shops=shops, encoder="use+minilm", encoders=hashing_encoders)
    assert [f["held_out"] for f in result["folds"]] == ["bytenest", "werkbank"]


def test_loso_with_the_hashing_encoder_reports_every_view(tmp_path: Path) -> None:
    for name in ("bytenest", "kinderhaus"):
        shutil.copytree(DEVSHOPS / name, tmp_path / name)
    shops = dev_shops(tmp_path)
    assert [s.name for s in shops] == ["bytenest", "kinderhaus"]
    # The settings name a bundled model; the injected loader answers it with the hashing encoder.
    result = run_loso(shops=shops, encoder="use+minilm", encoders=hashing_encoders)
    assert [f["held_out"] for f in result["folds"]] == ["bytenest", "kinderhaus"]
    for fold in result["folds"]:
        assert set(fold["modes"]) == {"human", "auto"}
        for row in fold["modes"].values():
            assert row["pairs"] > 50 and 0 < row["positives"] < row["pairs"]
            assert row["shipped"]["threshold"] == DEFAULT_THRESHOLD
            # The oracle's threshold is tuned on these very pairs: it can only flatter.
            assert row["oracle_threshold_on_this_shop"]["f1"] >= row["shipped"]["f1"]
            baseline = row["baseline_exact_email_or_order"]
            assert baseline["recall"] == 1.0 and baseline["precision"] < 0.7
    languages = set(result["per_language"]["human"])
    assert {"en", "de", "cross-lingual"} <= languages
    chosen = result["chosen_on_all_shops"]
    assert set(chosen["weights"]) == set(DuplicateWeights.__dataclass_fields__)


def test_cli_loso_prints_per_shop_and_per_language_tables(tmp_path: Path) -> None:
    from cli.eval import app

    # Two folders, as the development shops live in devshops/ and devdrafts/.
    for folder, name in (("a", "kinderhaus"), ("b", "velo-atelier")):
        shutil.copytree(DEVSHOPS / name, tmp_path / folder / name)
    folders = ["--shops", str(tmp_path / "a"), "--shops", str(tmp_path / "b")]
    result = CliRunner().invoke(app, ["duplicates", "--loso", *folders])
    assert result.exit_code == 0, result.output
    assert "kinderhaus     human" in result.output and "velo-atelier   auto" in result.output
    assert "cross-lingual" in result.output and "oracle" in result.output
    one = CliRunner().invoke(app, ["duplicates", "--loso", "--shops", str(tmp_path / "a")])
    assert one.exit_code == 2 and "fewer than two shops" in one.output
    missing = CliRunner().invoke(app, ["duplicates", "--loso", "--shops", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output


def test_cross_lingual_recontact_scores_on_the_multilingual_part(runtime: Runtime) -> None:
    # The hashing encoder has no multilingual half, so both cosines coincide; the pair is still
    # scored end to end through the stored vectors and the reason profiles.
    customer = {"email": "anna@example.de"}
    ingest(runtime, "acme", ticket("t-1", "Where is my parcel? Tracking stuck.", customer=customer))
    [result] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "Where is my parcel? Tracking stuck since Monday.",
            customer=customer,
            locale="de",
            created_at="2026-11-03T15:00:00Z",
        ),
    )
    [candidate] = result.duplicates
    assert candidate.ticket_id == "t-1" and candidate.is_duplicate
    assert any(r.startswith("reason profiles agree") for r in candidate.reasons)


@pytest.mark.slow
def test_loso_with_the_real_model_meets_the_target_and_matches_the_shipped_defaults() -> None:
    result = run_loso(shops=dev_shops(DEVSHOPS), encoder="use+minilm")
    assert result["shipped_matches_choice"], result["chosen_on_all_shops"]
    for fold in result["folds"]:
        human = fold["modes"]["human"]
        assert human["loso"]["f1"] >= 0.9, (fold["held_out"], human["loso"])
        assert human["loso"]["f1"] > human["baseline_exact_email_or_order"]["f1"] + 0.1
        assert fold["modes"]["auto"]["loso"]["f1"] >= 0.8, (fold["held_out"], fold["modes"]["auto"])


def test_a_tenant_calibration_applies_but_one_fitted_to_the_old_score_does_not(runtime: Runtime) -> None:
    from core.models import Calibration
    from eval.duplicates import store_threshold
    from history.duplicates import duplicate_threshold

    with runtime.session() as session:
        session.add(
            Calibration(
                tenant_id="acme", collection="duplicates", encoder="hashing", threshold=0.9, objective="v1"
            )
        )
    with runtime.session() as session:
        assert duplicate_threshold(session, tenant_id="acme", encoder="hashing") == DEFAULT_THRESHOLD
    prf_row = {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    result = {
        "encoder": "hashing",
        "threshold": 0.41,
        "method": prf_row,
        "method_cross_validated": prf_row,
        "baseline_exact_email_or_order": prf_row,
    }
    store_threshold(runtime, tenant_id="acme", result=result, source="test")
    with runtime.session() as session:
        assert duplicate_threshold(session, tenant_id="acme", encoder="hashing") == 0.41
        assert duplicate_threshold(session, tenant_id="acme", encoder="use+minilm") == DEFAULT_THRESHOLD


def test_cli_reports_a_language_without_duplicates_instead_of_crashing(tmp_path: Path) -> None:
    import json

    from cli.eval import app
    from eval.duplicates import pair_language
    from history.service import parse_tickets

    shop = DEVSHOPS / "kinderhaus"
    tickets = {t.id: t for t in parse_tickets(shop / "tickets.jsonl")}
    pairs = [json.loads(line) for line in (shop / "duplicate_pairs.jsonl").read_text().splitlines() if line]

    # Keep the cross-lingual pairs that are not duplicates only: that slice has no positive, so no recall.
    def cross_lingual(pair: dict[str, str]) -> bool:
        return pair_language(tickets[pair["a"]], tickets[pair["b"]]) == "cross-lingual"

    kept = [p for p in pairs if not (p["duplicate"] and cross_lingual(p))]
    assert any(cross_lingual(p) for p in kept)
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in kept))
    result = CliRunner().invoke(
        app,
        [
            "duplicates",
            "--tickets",
            str(shop / "tickets.jsonl"),
            "--pairs",
            str(tmp_path / "pairs.jsonl"),
            "--orders",
            str(shop / "orders.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.output.splitlines() if row.strip().startswith("cross-lingual")]
    assert "R -" in line
