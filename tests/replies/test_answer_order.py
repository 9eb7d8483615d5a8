"""Which article answers a question: the best passage across languages, the customer's language first
only among one text's translations; an open question is searched without the order's items."""

from __future__ import annotations

from kb import service as kb_service
from kb.models import Article
from kb.schemas import ArticleCreate
from kb.suggest import suggest
from replies.answers import (
    AnsweringArticle,
    answers_topic,
    articles_for_question,
    best_answers_first,
    prefers_open_pages,
    question_query,
)
from replies.drafts import topic_named_by_answer
from replies.segmentation import Question
from runtime import Runtime


def _answer(article_id: str, locale: str, score: float, search: float = 0.0) -> AnsweringArticle:
    return AnsweringArticle(
        id=article_id,
        title=article_id,
        url=None,
        locale=locale,
        confidence=0.6,
        passage="",
        passage_start=0,
        highlight=(0, 0),
        sentence_score=score,
        search_score=search,
    )


def test_an_unrelated_article_in_the_customers_language_does_not_outrank_the_answer() -> None:
    found = [
        _answer("kb-returns-it", "it", 0.588),
        _answer("kb-customs", "en", 0.593),
        _answer("kb-shipping-times-it", "it", 0.544),
    ]
    assert [a.id for a in best_answers_first(found, "it")] == [
        "kb-customs",
        "kb-returns-it",
        "kb-shipping-times-it",
    ]


def test_the_customers_translation_of_the_best_text_comes_first() -> None:
    found = [
        _answer("kb-customs", "en", 0.61),
        _answer("kb-customs-it", "it", 0.58),
        _answer("kb-gifts", "en", 0.6),
    ]
    assert [a.id for a in best_answers_first(found, "it")] == ["kb-customs-it", "kb-customs", "kb-gifts"]


def test_the_searchs_best_text_comes_before_a_closer_sentence_of_a_weaker_hit() -> None:
    # "How long can she use the voucher?": the search ranks the gift-card page far ahead, while one
    # sentence of the matching-pieces guide ("how long ... to complete a set") comes closer to the question.
    found = [
        _answer("kb-matching-pieces", "it", 0.62, search=0.03),
        _answer("kb-gift-wrap", "it", 0.55, search=0.62),
    ]
    assert [a.id for a in best_answers_first(found, "it")] == ["kb-gift-wrap", "kb-matching-pieces"]


def test_an_english_translation_of_another_languages_original_is_the_same_text() -> None:
    # An Italian shop: "kb-customs" is the Italian original, "kb-customs-en" its English version.
    found = [_answer("kb-customs", "it", 0.6, search=0.5), _answer("kb-customs-en", "en", 0.58, search=0.4)]
    assert [a.id for a in best_answers_first(found, "en")] == ["kb-customs-en", "kb-customs"]
    assert [a.id for a in best_answers_first(found, "it")] == ["kb-customs", "kb-customs-en"]
    # A Spanish customer reads the English version before the Italian original.
    assert [a.id for a in best_answers_first(found, "es")] == ["kb-customs-en", "kb-customs"]


def test_an_open_question_is_searched_without_the_orders_items() -> None:
    items = "Cast-iron teapot Tetsubin 0.8 l"
    open_question = Question(topic="other", text="Do you ship to Switzerland?")
    product_question = Question(topic="product_question", text="Can it go on a gas stove?")
    assert question_query(open_question, items) == "Do you ship to Switzerland?"
    assert question_query(product_question, items).endswith(items)


def test_a_drafts_search_skips_the_widgets_snippets_but_ranks_the_same(runtime: Runtime, shop: str) -> None:
    query = "how do I assemble the bar stool"
    # The hashing encoder's cosines are not on the shipped cut-offs' scale: a cut-off of its own.
    asked = {"tenant_id": shop, "query": query, "channel": "shopify", "locale": "en", "threshold": 0.1}
    with runtime.session() as session:
        shown = suggest(session, runtime.search, **asked)
        bare = suggest(session, runtime.search, snippets=False, **asked)
    assert shown.suggestions and shown.suggestions[0].snippet
    assert [(s.id, s.confidence) for s in bare.suggestions] == [
        (s.id, s.confidence) for s in shown.suggestions
    ]
    assert all(s.snippet == "" and s.highlights == [] for s in bare.suggestions)


def _article(article_id: str, tags: list[str]) -> Article:
    return Article(external_id=article_id, title=article_id, body="", locale="en", tags=tags)


def test_an_open_question_answered_by_a_product_guide_is_a_product_question() -> None:
    # "Are your soaps vegan?" read as a general question, answered by the seller's soap guide.
    question = Question(topic="other", text="Are your soaps vegan and free of palm oil?")
    guide = _answer("kb-soap-guide", "en", 0.7, search=0.6)
    articles = [_article("kb-soap-guide", ["product_question", "soaps"]), _article("kb-vouchers", ["other"])]
    assert topic_named_by_answer(question, [guide], articles).topic == "product_question"


def test_the_answers_tags_rename_only_open_questions_found_by_search() -> None:
    vouchers = _answer("kb-vouchers", "en", 0.7, search=0.6)
    guide = _answer("kb-soap-guide", "en", 0.7, search=0.6)
    guide_by_tag = guide.model_copy(update={"picked_by": "reason_tag"})
    articles = [_article("kb-soap-guide", ["product_question"]), _article("kb-vouchers", ["other"])]
    other = Question(topic="other", text="Do you sell gift vouchers?")
    tracking = Question(topic="tracking", text="Where is my soap?")
    assert topic_named_by_answer(other, [vouchers], articles).topic == "other"
    assert topic_named_by_answer(other, [guide_by_tag], articles).topic == "other"
    assert topic_named_by_answer(other, [], articles).topic == "other"
    assert topic_named_by_answer(tracking, [guide], articles).topic == "tracking"


def test_a_product_question_answered_by_a_page_the_seller_tagged_other_is_named_other() -> None:
    # "Is it covered by the warranty?": this seller files its warranty page under "other".
    question = Question(topic="product_question", text="Is the cracked glaze covered by your guarantee?")
    warranty = _answer("kb-warranty", "en", 0.7, search=0.6)
    articles = [_article("kb-warranty", ["other"]), _article("kb-care", ["product_question"])]
    assert topic_named_by_answer(question, [warranty], articles).topic == "other"
    assert answers_topic("product_question", ["other"]) and answers_topic("other", ["product_question"])
    assert not answers_topic("product_question", ["other", "return_label"])


def test_an_untagged_question_the_classifier_put_near_an_order_reason_keeps_that_reasons_pages() -> None:
    assert prefers_open_pages(Question(topic="other", text="Do you sell gift vouchers?"))
    assert prefers_open_pages(Question(topic="other", text="Gluten free?", closest_topic="product_question"))
    # "aho ma 'sto pacco?": the classifier, under its floor, found tracking closest; its page answers.
    assert not prefers_open_pages(Question(topic="other", text="'sto pacco?", closest_topic="tracking"))
    assert not prefers_open_pages(Question(topic="tracking", text="Where is my parcel?"))


def test_an_open_question_found_only_through_the_order_gets_a_shop_page_never_a_product_guide(
    runtime: Runtime, shop: str
) -> None:
    # "Could you hold it until January?" names the bar stool only through the order; the stool's assembly
    # guide is no answer to it, the seller's page on holding deliveries is.
    question = Question(topic="other", text="Could you hold it until January?")
    asked = {"tenant_id": shop, "question": question, "channel": "shopify", "locale": "en", "threshold": 0.3}

    def answers() -> list[str]:
        with runtime.session() as session:
            found = articles_for_question(session, runtime.search, items="Alto bar stool", **asked)
        return [a.id for a in found]

    assert answers() == []
    with runtime.session() as session:
        kb_service.upsert(
            session,
            tenant_id=shop,
            article_in=ArticleCreate(
                id="kb-hold-delivery",
                title="Holding the delivery of an Alto bar stool",
                body="We can hold an Alto bar stool order for up to eight weeks before it ships.",
                locale="en",
                tags=["delivery_change", "other"],
            ),
        )
    runtime.search.catch_up(shop, "articles")
    assert answers()[:1] == ["kb-hold-delivery"]
