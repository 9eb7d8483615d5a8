"""The drafts evaluation's labelled answer pages: validation with file and line, and the cited-page score."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from core.errors import ImportFileError
from eval.drafts import DraftRequestCase, cited_pages, read_requests, score_case, summarise
from kb.ranking import translation_group

TEXT = "Bonjour, mon colis est en retard. Le ukulélé concert, ça va pour des enfants de 8 ans ?"
LOCALES = {"kb-ukuleles": "es", "kb-ukuleles-fr": "fr", "kb-guitar-sizes": "es", "kb-tracking": "fr"}


def group_of(page: str) -> str:
    return translation_group(page, LOCALES.get(page, ""))


def request(**extra: Any) -> dict[str, Any]:
    return {
        "id": "d-1",
        "channel": "email",
        "text": TEXT,
        "expected_topics": ["tracking", "product_question"],
        "answer_pages": [
            {
                "asks": "Le ukulélé concert, ça va pour des enfants de 8 ans ?",
                "topic": "product_question",
                "pages": ["kb-ukuleles"],
            }
        ],
        **extra,
    }


def write(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    path = tmp_path / "draft_requests.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def draft(*cited: tuple[str, str]) -> dict[str, Any]:
    questions = [{"topic": "tracking", "status": "answered", "article_id": "kb-tracking"}]
    questions += [{"topic": topic, "status": "answered", "article_id": page} for topic, page in cited]
    return {
        "locale": "fr",
        "questions": questions,
        "reply": "",
        "fact_check": {"unsupported": []},
        "compliance": {"blocking": [], "violations": []},
        "took_ms": 1.0,
    }


def test_a_translation_of_a_labelled_page_is_on_topic_and_a_neighbouring_page_is_not() -> None:
    (case,) = read_requests_from_rows(request())
    right = cited_pages(case, draft(("product_question", "kb-ukuleles-fr")), group_of)
    assert right["cited"] == [{"article": "kb-ukuleles-fr", "on_topic": True}]
    assert (right["labelled_with_page"], right["labelled_found"]) == (1, 1)
    wrong = cited_pages(case, draft(("product_question", "kb-guitar-sizes")), group_of)
    assert wrong["cited"] == [{"article": "kb-guitar-sizes", "on_topic": False}]
    assert wrong["labelled_found"] == 0


def test_the_summary_counts_only_product_and_open_questions_of_labelled_requests() -> None:
    (case,) = read_requests_from_rows(request())
    (unlabelled,) = read_requests_from_rows(request(answer_pages=[]))
    results = [
        score_case(case, draft(("product_question", "kb-ukuleles")), group_of),
        score_case(case, draft(("other", "kb-guitar-sizes")), group_of),
        score_case(unlabelled, draft(("product_question", "kb-guitar-sizes")), group_of),
    ]
    summary = summarise(results, [1.0, 1.0, 1.0])
    assert summary["cited_page_precision"] == 0.5  # the tracking page and the unlabelled request say nothing
    assert summary["labelled_page_recall"] == 0.5


def test_a_question_no_page_answers_makes_any_cited_page_off_topic() -> None:
    label = {"asks": "Le ukulélé concert", "topic": "product_question", "pages": []}
    (case,) = read_requests_from_rows(request(answer_pages=[label]))
    scored = cited_pages(case, draft(("product_question", "kb-guitar-sizes")), group_of)
    assert scored == {
        "cited": [{"article": "kb-guitar-sizes", "on_topic": False}],
        "labelled_with_page": 0,
        "labelled_found": 0,
    }


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ({"asks": "a question nobody wrote", "topic": "other", "pages": []}, "is not quoted from the text"),
        ({"asks": "Le ukulélé concert", "topic": "tracking", "pages": []}, "is not one of"),
        ({"asks": "Le ukulélé concert", "topic": "other", "pages": ["kb-nowhere"]}, "no article kb-nowhere"),
    ],
)
def test_a_bad_label_names_the_file_and_line(tmp_path: Path, label: dict[str, Any], message: str) -> None:
    path = write(tmp_path, request(id="d-0", answer_pages=[]), request(answer_pages=[label]))
    with pytest.raises(ImportFileError) as raised:
        read_requests(path, known_pages=set(LOCALES))
    (error,) = raised.value.errors
    assert (error.file, error.line) == (str(path), 2)
    assert message in error.reason


def read_requests_from_rows(*rows: dict[str, Any]) -> list[DraftRequestCase]:
    with tempfile.TemporaryDirectory() as folder:
        return read_requests(write(Path(folder), *rows), known_pages=set(LOCALES))
