"""Evaluation file readers: good files parse, a bad line names file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ImportFileError
from eval.datasets import read_articles, read_queries, read_tickets


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_queries_parse_relevant_label_and_out_of_scope(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        '{"id": "q1", "text": "where is my parcel", "locale": "EN", "channel": "amazon", '
        '"relevant": ["kb-1"]}',
        "",
        '{"id": "q2", "text": "card not arrived", "label": "card_arrival", "extra": 1}',
        '{"id": "q3", "text": "tell me a joke", "relevant": []}',
    )
    q1, q2, q3 = read_queries(path)
    assert q1.relevant == ("kb-1",) and q1.locale == "en" and q1.channel == "amazon" and not q1.out_of_scope
    assert q2.label == "card_arrival" and q2.relevant == () and not q2.out_of_scope
    assert q3.out_of_scope


def test_bad_query_lines_are_all_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        '{"id": "q1", "text": "fine"}',
        "{not json",
        '{"id": "q3", "text": ""}',
        '{"id": "q1", "text": "again"}',
        '{"id": "q5", "text": "x", "relevant": "kb-1"}',
        "[1, 2]",
    )
    with pytest.raises(ImportFileError) as info:
        read_queries(path)
    found = {(e.line, e.reason.split(" ")[0]) for e in info.value.errors}
    assert {line for line, _ in found} == {2, 3, 4, 5, 6}
    assert all(e.file == str(path) for e in info.value.errors)
    assert any("duplicate id" in e.reason for e in info.value.errors)
    assert any("relevant must be a list" in e.reason for e in info.value.errors)


def test_tickets_join_subject_and_body_and_keep_free_form_tags(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl",
        '{"id": "t1", "channel": "web", "subject": "Card", "body": "still waiting", '
        '"tags": ["card_arrival"]}',
        '{"id": "t2", "body": "refund please", "locale": "de"}',
    )
    t1, t2 = read_tickets(path)
    assert t1.text == "Card\nstill waiting" and t1.tags == ("card_arrival",)
    assert t2.text == "refund please" and t2.locale == "de" and t2.tags == ()


def test_ticket_without_body_is_rejected_with_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", '{"id": "t1", "body": "ok"}', '{"id": "t2", "subject": "x"}')
    with pytest.raises(ImportFileError) as info:
        read_tickets(path)
    assert [(e.line, "body" in e.reason) for e in info.value.errors] == [(2, True)]


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no queries"):
        read_queries(_write(tmp_path / "e.jsonl", ""))
    with pytest.raises(ImportFileError) as info:
        read_tickets(tmp_path / "missing.jsonl")
    assert "cannot read file" in info.value.errors[0].reason


def test_articles_use_the_importer_parser(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.jsonl",
        '{"id": "kb-1", "title": "Tracking", "body": "Use the link.", "locale": "en", '
        '"channels": ["amazon"]}',
    )
    (article,) = read_articles(path)
    assert article.id == "kb-1" and article.channels == ["amazon"]
