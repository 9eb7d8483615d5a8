"""Suggestion snippets: plain text out of markdown, whole-word highlights."""

from __future__ import annotations

from embeddings.keyword import analyze
from kb.suggest import plain_text, snippet


def test_markdown_becomes_the_text_a_reader_sees() -> None:
    text = plain_text(
        "## Delivery\n\n**Orders** ship in *2 days*. See [tracking](https://x.example).\n\n"
        "| a | b |\n|---|---|\n| c | d |"
    )
    assert text == "Delivery Orders ship in 2 days. See tracking. a b c d"
    assert "*" not in text and "#" not in text and "|" not in text and "https" not in text


def test_highlights_cover_whole_words_only() -> None:
    chunk = "Delivery times\nEvery **delivery** is very fast; deliveries leave daily."
    terms = set(analyze("delivery", "en"))
    text, spans = snippet(chunk, terms, language="en")
    words = [text[a:b] for a, b in spans]
    assert words == ["delivery", "deliveries"]
    # A term inside another word ("very" in "delivery") is no match: spans start and end at word edges.
    inside = "Delivery times\nEvery delivery leaves daily."
    assert snippet(inside, set(analyze("very", "en")), language="en")[1] == []
    for a, b in snippet(chunk, terms, language="en")[1]:
        assert (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum())


def test_a_heading_line_and_its_paragraph_do_not_run_together() -> None:
    text, _ = snippet("Title\nAfter dispatch\nOnce the parcel has left", set(), language="en")
    assert "dispatchOnce" not in text
