"""`deflect compliance check`: exit status, JSON output, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.compliance import app

runner = CliRunner()


def test_text_file_with_blocking_violation_exits_1(tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text("Please leave us a 5-star review!", encoding="utf-8")
    result = runner.invoke(app, ["check", str(reply), "--channel", "amazon"])
    assert result.exit_code == 1
    assert "review_manipulation" in result.output


def test_fixable_only_text_exits_0_and_json_has_fixed_text(tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text("Your parcel is on its way 🚚", encoding="utf-8")
    result = runner.invoke(app, ["check", str(reply), "--channel", "amazon", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout.strip())
    assert payload["fixed_text"] == "Your parcel is on its way"
    assert payload["violations"][0]["rule"] == "emoji"


def test_jsonl_uses_each_lines_channel(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    lines = [
        {"id": "a", "channel": "shopify", "text": "20% off at https://shop.example"},
        {"id": "b", "channel": "web", "text": "Thanks for your order."},
    ]
    cases.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(cases), "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(row["id"], row["passed"]) for row in rows] == [("a", True), ("b", True)]


def test_bad_jsonl_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "a", "channel": "ebay", "text": "ok"}\n{not json\n', encoding="utf-8")
    result = runner.invoke(app, ["check", str(cases)])
    assert result.exit_code == 2
    assert f"{cases}:2: invalid JSON" in result.output


def test_text_file_without_channel_is_rejected(tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text("hello", encoding="utf-8")
    result = runner.invoke(app, ["check", str(reply)])
    assert result.exit_code == 2
    assert "--channel is required" in result.output


def test_unknown_channel_is_rejected(tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text("hello", encoding="utf-8")
    result = runner.invoke(app, ["check", str(reply), "--channel", "etsy"])
    assert result.exit_code == 2
    assert "etsy" in result.output
