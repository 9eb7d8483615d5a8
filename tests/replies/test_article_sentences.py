"""The articles' sentence vectors a draft quotes from: encoded in bounded batches, once per article text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.encoder import TextKind
from indexing.engine import SearchEngine
from kb.models import Article
from replies import answers
from replies.drafts import excerpt, passage_excerpt
from tests.support.encoders import HashingEncoder


class CountingEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__(64)
        self.batches: list[int] = []

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        self.batches.append(len(texts))
        return super().encode(texts, kind=kind)


def _article(i: int, sentences: int) -> Article:
    body = " ".join(
        f"Article {i} explains step number {n} of the returns process in detail." for n in range(sentences)
    )
    return Article(external_id=f"kb-batch-{i}", title=f"Article {i}", body=body, locale="en")


def test_articles_are_encoded_in_bounded_batches_and_read_from_the_cache_after() -> None:
    # Every encoder call waits its turn behind the other requests': a draft's articles go in few calls.
    encoder = CountingEncoder()
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    articles = [_article(i, sentences=20) for i in range(10)]
    answers.prepare_articles(engine, articles)
    assert sum(encoder.batches) == 200
    assert max(encoder.batches) <= answers.SENTENCE_BATCH + 20  # a batch closes once it holds 64
    assert encoder.batches == [80, 80, 40]  # four articles a call, not one call per article
    encoder.batches.clear()
    spans, vectors = answers._sentence_vectors(engine, articles[3])
    assert encoder.batches == [] and len(spans) == 20 and vectors.shape == (20, 64)
    # The rows are the article's own: its third sentence scores highest against itself.
    third = articles[3].body[spans[2][2] : spans[2][3]]
    assert int(np.argmax(vectors @ encoder.encode([third], kind="query")[0])) == 2
    # A changed body is a new text: encoded again, alone.
    encoder.batches.clear()
    articles[3].body += " One more sentence about the refund of the shipping costs."
    answers.prepare_articles(engine, articles)
    assert encoder.batches == [21]


def test_a_passage_the_channel_forbids_gives_way_to_a_close_allowed_one() -> None:
    encoder = HashingEncoder(64)
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    article = Article(
        external_id="kb-gift-wrap",
        title="Gift wrap and vouchers",
        body=(
            "Gift wrap costs 4.95 per item in our shop, and this week use code WRAP10 for 10% off.\n\n"
            "On Amazon orders, use Amazon's own gift options for gift wrap and a gift note."
        ),
        locale="en",
    )
    question = encoder.encode(["Gift wrap per item in your shop for Amazon orders?"], kind="query")[0]
    on_email = answers._best_passage(engine, article, question, 0.9, "email")
    on_amazon = answers._best_passage(engine, article, question, 0.9, "amazon")
    assert on_email is not None and on_amazon is not None
    assert on_email.passage.startswith("Gift wrap costs")  # the closest passage where the rules allow it
    assert on_amazon.passage.startswith("On Amazon orders")  # a discount code is a promotion on Amazon


def _quoted_for(body: str, question: str) -> answers.AnsweringArticle:
    """The passage a draft on e-mail quotes from an article with this body."""
    encoder = HashingEncoder(64)
    engine = SearchEngine(encoder=encoder, session_factory=None, snapshot_dir=None)
    article = Article(external_id="kb-page", title="Help page", body=body, locale="en")
    found = answers._best_passage(engine, article, encoder.encode([question], kind="query")[0], 0.9, "email")
    assert found is not None
    return found


def _answering_sentence(found: answers.AnsweringArticle) -> str:
    start, end = found.highlight
    return found.passage[start:end]


def test_a_list_right_under_its_heading_is_quoted_with_the_line_that_introduces_it() -> None:
    # Help centres written as "## Section" with its list on the next line, no blank line between: every
    # sentence used to be skipped with the heading, and the draft could not cite the page at all.
    body = (
        "# Refills and dispensers\n\n"
        "## Refills\n"
        "- One litre refills our 500 ml amber glass dispenser twice.\n"
        "## Compatibility\n"
        "The pump has a standard thread:\n"
        "- the spare pump 28/410 also fits most bottles of other brands with the same neck."
    )
    blocks = [body[start:end] for start, end in answers.text_blocks(body)]
    assert blocks == [
        "- One litre refills our 500 ml amber glass dispenser twice.",
        "The pump has a standard thread:\n"
        "- the spare pump 28/410 also fits most bottles of other brands with the same neck.",
    ]
    found = _quoted_for(body, "does the spare pump fit bottles of other brands?")
    assert found.passage == blocks[1]
    assert passage_excerpt(body, found) == (
        "The pump has a standard thread: the spare pump 28/410 also fits most bottles of other brands with "
        "the same neck."
    )


def test_the_opening_excerpt_skips_a_table_for_the_prose_after_it() -> None:
    body = (
        "# Dialling in your grinder\n\n"
        "**Starting points (flat-burr grinder, stepless dial 0-10)**\n"
        "| Brew method | Setting |\n|---|---|\n| Espresso | 2-3 |\n| French press | 9-10 |\n\n"
        "**Hand grinder (clicks from zero)**: espresso 8-12 clicks, moka 14-18, filter 20-26."
    )
    assert excerpt(body) == "Hand grinder (clicks from zero): espresso 8-12 clicks, moka 14-18, filter 20-26."


def test_a_list_in_the_opening_excerpt_keeps_its_items_apart() -> None:
    body = "# Payment\n\nIn our own shop you can pay with:\n- Visa\n- PayPal\n- Bizum (Spanish bank accounts)"
    assert excerpt(body) == "In our own shop you can pay with: Visa; PayPal; Bizum (Spanish bank accounts)"


def test_a_line_in_bold_alone_is_a_heading_never_the_quoted_answer() -> None:
    body = (
        "# Kettle warranty\n\n"
        "**If the kettle is faulty**\n"
        "- Write to us with your order number and a short video of the fault; we send a replacement kettle."
    )
    found = _quoted_for(body, "what if the kettle is faulty?")
    assert _answering_sentence(found).startswith("- Write to us with your order number")


def test_the_opening_excerpt_leaves_out_a_bold_heading_over_its_paragraph() -> None:
    body = (
        "# Gift vouchers\n\n"
        "**Types**\n"
        "Digital vouchers come as a PDF by e-mail, from 10 to 200 euros, sent at once or on a chosen date."
    )
    assert excerpt(body) == (
        "Digital vouchers come as a PDF by e-mail, from 10 to 200 euros, sent at once or on a chosen date."
    )


def test_a_table_row_that_answers_is_quoted_with_its_column_names() -> None:
    body = (
        "# Pot sizes\n\n"
        "All our pot sizes refer to the outer diameter at the rim, which is what the name gives.\n\n"
        "| Pot | Rim | Height | Soil |\n|---|---|---|---|\n"
        "| Classic terracotta 20 cm | 20 cm | 18 cm | 4 litres |\n"
        "| Classic terracotta 40 cm olive tree | 40 cm | 34 cm | 28 litres |"
    )
    found = _quoted_for(body, "Classic terracotta 40 cm olive tree how many litres")
    assert _answering_sentence(found).startswith("| Classic terracotta 40 cm")
    assert passage_excerpt(body, found).endswith(
        "Pot: Classic terracotta 40 cm olive tree; Rim: 40 cm; Height: 34 cm; Soil: 28 litres."
    )
