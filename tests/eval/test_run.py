"""`deflect eval run`: config checking, results.json, a self-contained report with charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from eval.run import load_config, run
from tests.support.encoders import hashing_encoders

ROOT = Path(__file__).resolve().parents[2]

TICKETS = [
    ("card_arrival", "my new card has not arrived"),
    ("card_arrival", "still waiting for my card"),
    ("refund", "i want my money back"),
    ("refund", "refund not received yet"),
    ("pin", "forgot my pin number"),
    ("pin", "reset the pin code"),
]


def _jsonl(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def _config(tmp_path: Path, **extra: object) -> Path:
    tickets = _jsonl(
        tmp_path / "t.jsonl",
        [
            {"id": f"t{i}", "body": text, "tags": [label], "channel": "web"}
            for i, (label, text) in enumerate(TICKETS)
        ],
    )
    queries = _jsonl(
        tmp_path / "q.jsonl",
        [
            {"id": "q1", "text": "card not arrived", "label": "card_arrival", "locale": "en"},
            {"id": "q2", "text": "refund not received", "label": "refund", "locale": "de"},
            {"id": "q3", "text": "zebra quantum", "locale": "en"},
        ],
    )
    calib = _jsonl(
        tmp_path / "v.jsonl",
        [{"id": "v1", "text": "pin reset", "label": "pin"}, {"id": "v2", "text": "volcano"}],
    )
    config = {
        "name": "tiny",
        "retrieval": {
            "tickets": tickets,
            "queries": queries,
            "calibrate_on": calib,
            "encoders": ["use+minilm"],
        },
        **extra,
    }
    path = tmp_path / "eval.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is valid YAML
    return path


def test_run_writes_results_and_self_contained_report(tmp_path: Path) -> None:
    config = load_config(
        _config(tmp_path, compliance={"cases": str(ROOT / "demo" / "compliance_cases.jsonl")})
    )
    results = run(config, tmp_path / "out", encoders=hashing_encoders)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    retrieval = saved["sections"]["retrieval"]
    assert {"hybrid", "dense", "bm25", "hybrid-no-head", "dense+head"} <= set(retrieval["systems"])
    assert (
        retrieval["systems"]["hybrid"]["recall@1"]
        == results["sections"]["retrieval"]["systems"]["hybrid"]["recall@1"]
    )
    assert retrieval["calibration"]["hybrid"]["objective"].startswith("max out-of-scope abstention")
    assert set(retrieval["slices"]["locale"]) == {"en", "de"}
    assert "compliance" in saved["sections"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<svg") >= 4
    assert not re.search(r"(src|href)=\"https?://", page)  # no external assets
    for heading in ("Retrieval", "Abstention", "Per locale and channel", "Compliance"):
        assert f">{heading}</h2>" in page


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nretrieval:\n  tickets: nowhere.jsonl\n  queries: nowhere2.jsonl\n", encoding="utf-8"
    )
    with pytest.raises(InvalidInputError, match="missing files: retrieval.tickets"):
        load_config(bad)
    bad.write_text("name: x\nretrievl: {}\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="unknown section"):
        load_config(bad)
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="mapping"):
        load_config(bad)


def test_shipped_configs_parse_when_shared_data_is_present() -> None:
    for name in ("banking77", "clinc150", "demo"):
        path = ROOT / "eval" / "configs" / f"{name}.yaml"
        if name != "demo" and not (ROOT.parent / "shared" / "data" / name).exists():
            pytest.skip("../shared/data is not on this machine")
        config = load_config(path)
        assert config.retrieval is not None
