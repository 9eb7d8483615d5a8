"""The help articles that answer one question, with the passage and sentence that do: one computation for
the draft's article paragraphs and the agent's "articles that answer each question" panel, so the two
always agree.

Each question is searched like a widget query (same ranking, channel and locale, abstain threshold,
narrowed to the question's reason when it has one). In each suggested article the answering sentence is
the one whose vector is closest to the question's. Where the search finds nothing on the question's
reason, the seller's article tagged with that reason for the channel is taken, and says so.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.channels import get_ruleset
from compliance.service import find_violations
from core.errors import InvalidInputError
from core.schemas import reason_tags, scoped_to_channel, serves_channel
from core.settings import get_settings
from core.text import sentence_spans
from kb.models import Article
from kb.ranking import language_tier, translation_group
from kb.service import COLLECTION
from kb.suggest import params_from_settings, suggest
from replies.segmentation import Question, fold

if TYPE_CHECKING:
    from embeddings.encoder import Encoder
    from indexing.engine import SearchEngine

ARTICLES_PER_QUESTION = 3
MIN_SENTENCE_CHARS = 15
# An article chosen by its reason tag (no search hit) is the seller's own answer for that reason; it is
# trusted less than a search hit above the threshold, more than a guess.
REASON_TAG_CONFIDENCE = 0.6
# Reasons whose answer is an article's text; the others are answered from the order's facts by a macro.
ARTICLE_TOPICS = frozenset({"product_question", "other"})
# Order reasons a customer also asks about in general ("can I change the address after ordering?",
# "can the invoice name my company?"): without an order, the seller's article on the reason answers.
# Status questions (tracking, refund status) and delivery problems stay with the order.
POLICY_TOPICS = frozenset({"delivery_change", "invoice", "cancellation", "return_label"})
# A product question is usually answered by a product guide or size chart, which carries no contact
# reason among its tags; any other reason needs the article tagged with it (a planting guide found for
# "I got tulips instead of daffodils" answers nothing: the wrong-item macro does, from the order).
_UNTAGGED_ANSWERS = frozenset({"product_question"})


class AnsweringArticle(BaseModel):
    id: str
    title: str
    url: str | None
    locale: str
    confidence: float = Field(description="The article's search confidence for the question (cosine)")
    passage: str = Field(description="The paragraph of the article that answers the question")
    passage_start: int = Field(description="Offset of the passage in the article body")
    highlight: tuple[int, int] = Field(description="[start, end) of the answering sentence within passage")
    sentence_score: float = Field(description="Cosine of the answering sentence to the question")
    search_score: float = Field(
        0.0, description="The search's ranking score for the question (0 when picked by its reason tag)"
    )
    picked_by: Literal["search", "reason_tag"] = Field(
        "search", description="Found by search above the threshold, or the article tagged with the reason"
    )


class QuestionArticles(BaseModel):
    topic: str
    text: str
    spans: list[tuple[int, int]] = Field(
        description="[start, end) of the question's sentences in ticket_text"
    )
    articles: list[AnsweringArticle] = Field(
        description="Best first; empty when nothing scores above threshold"
    )


class TicketArticles(BaseModel):
    ticket_id: str
    channel: str
    locale: str
    ticket_text: str
    threshold: float | None = Field(
        description="The tenant's calibrated cut-off; null: the shipped per language"
    )
    questions: list[QuestionArticles]


# A line in bold alone is a heading ("**If the kettle is faulty**"), never the answer: quoted, it ended a
# reply's answer on "If the kettle is faulty." (four development drafts).
_BOLD_LINE = re.compile(r"(\*\*|__)[^*_]+\1:?")


def _candidates(body: str) -> list[tuple[int, int, int, int]]:
    """(paragraph start, paragraph end, sentence start, sentence end) of every prose sentence of a body."""
    found: list[tuple[int, int, int, int]] = []
    for start, end in text_blocks(body):
        for s, e in sentence_spans(body[start:end]):
            if e - s >= MIN_SENTENCE_CHARS and not _BOLD_LINE.fullmatch(body[start + s : start + e]):
                found.append((start, end, start + s, start + e))
    return found


def text_blocks(body: str) -> list[tuple[int, int]]:
    """[start, end) of each block of text between blank lines and headings. A heading often has its list
    right under it, with no blank line ("## Compatibility\n- The pump fits ..."): skipping the whole block
    with its heading left 25 of the development help centres' articles with nothing to quote."""
    blocks: list[tuple[int, int]] = []
    block_start: int | None = None
    offset = 0
    for line in body.splitlines(keepends=True):
        if not line.strip() or line.lstrip().startswith("#"):
            if block_start is not None:
                blocks.append((block_start, offset))
            block_start = None
        elif block_start is None:
            block_start = offset
        offset += len(line)
    if block_start is not None:
        blocks.append((block_start, len(body)))
    return [(start, start + len(body[start:end].rstrip())) for start, end in blocks]


# Sentence vectors per (encoder, article text): an article's sentences are encoded once per process, not
# once per question that cites it.
_SENTENCE_CACHE: OrderedDict[tuple[str, str, str], tuple[list[tuple[int, int, int, int]], np.ndarray]] = (
    OrderedDict()
)
SENTENCE_CACHE_SIZE = 1024
_cache_lock = threading.Lock()


def _sentence_key(encoder: Encoder, article: Article) -> tuple[str, str, str]:
    return (
        f"{encoder.name}:{encoder.version}",
        article.external_id,
        hashlib.sha1(article.body.encode()).hexdigest(),
    )


def _sentence_vectors(
    engine: SearchEngine, article: Article
) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
    encoder = engine.encoder_for(COLLECTION)
    key = _sentence_key(encoder, article)
    with _cache_lock:
        found = _SENTENCE_CACHE.get(key)
        if found is not None:
            _SENTENCE_CACHE.move_to_end(key)
            return found
    return _encode_sentences(encoder, [(key, article, _candidates(article.body))])[0]


# Sentences per encoder call. Each call waits its turn at the encoder (one encode at a time per
# process): under load a draft waited once per cited article, now once per question; the bound keeps
# the server's warm-up from holding the encoder for long.
SENTENCE_BATCH = 64


def prepare_articles(engine: SearchEngine, articles: Sequence[Article]) -> None:
    """Encodes the sentences of the articles not in the cache above, a few articles per encoder call:
    ahead of the first draft that cites them (server warm-up) and for each question's articles at once."""
    encoder = engine.encoder_for(COLLECTION)
    with _cache_lock:
        missing = {
            key: article
            for article in articles
            if (key := _sentence_key(encoder, article)) not in _SENTENCE_CACHE
        }
    batch: list[tuple[tuple[str, str, str], Article, list[tuple[int, int, int, int]]]] = []
    size = 0
    for key, article in missing.items():
        spans = _candidates(article.body)
        batch.append((key, article, spans))
        size += len(spans)
        if size >= SENTENCE_BATCH:
            _encode_sentences(encoder, batch)
            batch, size = [], 0
    if batch:
        _encode_sentences(encoder, batch)


def _encode_sentences(
    encoder: Encoder, batch: list[tuple[tuple[str, str, str], Article, list[tuple[int, int, int, int]]]]
) -> list[tuple[list[tuple[int, int, int, int]], np.ndarray]]:
    texts = [article.body[s:e] for _, article, spans in batch for _, _, s, e in spans]
    vectors = encoder.encode(texts, kind="passage") if texts else np.zeros((0, 1), np.float32)
    done: list[tuple[list[tuple[int, int, int, int]], np.ndarray]] = []
    offset = 0
    with _cache_lock:
        for key, _, spans in batch:
            rows = vectors[offset : offset + len(spans)] if spans else np.zeros((0, 1), np.float32)
            offset += len(spans)
            _SENTENCE_CACHE[key] = (spans, rows)
            _SENTENCE_CACHE.move_to_end(key)
            done.append((spans, rows))
        while len(_SENTENCE_CACHE) > SENTENCE_CACHE_SIZE:
            _SENTENCE_CACHE.popitem(last=False)
    return done


# How much closer to the question a passage the channel forbids may be than the allowed one taken instead.
# Not tuned: a gift-wrap article's voucher prices are a promotion on Amazon, and its Amazon paragraph
# answers the same question a few hundredths further away.
_ALLOWED_PASSAGE_MARGIN = 0.15


def breaks_channel_rules(passage: str, channel: str) -> bool:
    try:
        version = get_ruleset(channel).version
    except InvalidInputError:
        return False
    return _violates(passage, channel, version)


@lru_cache(maxsize=8192)
def _violates(passage: str, channel: str, version: str) -> bool:
    """Cached per rule-set version: a changed rule file is read again (compliance.channels.get_ruleset)."""
    return bool(find_violations(passage, get_ruleset(channel)))


def _best_passage(
    engine: SearchEngine,
    article: Article,
    query_vector: np.ndarray,
    confidence: float,
    channel: str,
    search_score: float = 0.0,
) -> AnsweringArticle | None:
    """The article's paragraph whose sentence is closest to the question, among those the channel allows
    when one comes close: a passage the compliance fixer would cut leaves the answer empty."""
    spans, vectors = _sentence_vectors(engine, article)
    if not spans:
        return None
    scores = vectors @ query_vector
    ranked = [int(i) for i in np.argsort(-scores, kind="stable")]
    best = ranked[0]
    for index in ranked:
        if scores[index] < scores[ranked[0]] - _ALLOWED_PASSAGE_MARGIN:
            break
        if not breaks_channel_rules(article.body[spans[index][0] : spans[index][1]], channel):
            best = index
            break
    p_start, p_end, s_start, s_end = spans[best]
    return AnsweringArticle(
        id=article.external_id,
        title=article.title,
        url=article.url,
        locale=article.locale,
        confidence=round(confidence, 4),
        passage=article.body[p_start:p_end],
        passage_start=p_start,
        highlight=(s_start - p_start, s_end - p_start),
        sentence_score=round(float(scores[best]), 4),
        search_score=round(search_score, 4),
        picked_by="search",
    )


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]{3,}", fold(text)))


def _by_reason_tag(
    articles: list[Article], question: Question, channel: str, locale: str, items: str
) -> Article | None:
    """The article tagged with the question's reason for this channel, the customer's language first."""
    wanted = _words(f"{question.text} {items}")
    best: tuple[float, Article] | None = None
    for article in articles:
        elsewhere = not serves_channel(article.channels, channel)
        if elsewhere or question.topic not in reason_tags(article.tags):
            continue
        overlap = len(wanted & _words(f"{article.title} {article.tags}")) + 0.2 * len(
            wanted & _words(article.body)
        )
        if question.topic == "product_question" and overlap < 1:
            continue  # a care guide for the wrong product answers nothing
        score = (
            2.0 * scoped_to_channel(article.channels, channel)
            + 1.5 * (article.locale == locale)
            + 0.5 * (article.locale == "en")
            + 0.3 * overlap
        )
        if best is None or score > best[0]:
            best = (score, article)
    return best[1] if best else None


def answers_topic(topic: str, tags: list[str]) -> bool:
    """Whether an article with these tags, found above the threshold, answers a question on ``topic``.

    The two article-answered topics answer each other: whether a warranty page is a product question or
    "other" is the seller's taxonomy (six of the fifteen development help centres tag it "other", four
    "product_question"), and the classifier cannot know which; the draft names the question after the
    article that answers it (``replies.drafts.topic_named_by_answer``)."""
    reasons = reason_tags(tags)
    if topic in ARTICLE_TOPICS and reasons and reasons <= ARTICLE_TOPICS:
        return True
    return topic in reasons or (topic in _UNTAGGED_ANSWERS and not reasons)


def _first_prose(article: Article) -> AnsweringArticle:
    for start, end, s_start, s_end in _candidates(article.body):
        if not article.body[s_start:s_end].lstrip().startswith(("-", "|", "*")):
            return AnsweringArticle(
                id=article.external_id,
                title=article.title,
                url=article.url,
                locale=article.locale,
                confidence=REASON_TAG_CONFIDENCE,
                passage=article.body[start:end],
                passage_start=start,
                highlight=(s_start - start, s_end - start),
                sentence_score=0.0,
                picked_by="reason_tag",
            )
    return AnsweringArticle(
        id=article.external_id,
        title=article.title,
        url=article.url,
        locale=article.locale,
        confidence=REASON_TAG_CONFIDENCE,
        passage="",
        passage_start=0,
        highlight=(0, 0),
        sentence_score=0.0,
        picked_by="reason_tag",
    )


def question_query(question: Question, items: str = "") -> str:
    """What a question is searched as: the sentences before it, its own words and the order's items.

    An open question ("do you ship to Switzerland?", "is the gift note in the parcel?") is about the
    shop, not the product: the order's items would pull it to the product's care guide."""
    asked = f"{question.context} {question.text}".strip()
    if question.topic == "other":
        return asked
    return f"{asked} {items}".strip()


def best_answers_first(found: list[AnsweringArticle], locale: str) -> list[AnsweringArticle]:
    """The search's best text first, then the best passage, across languages; the customer's language first
    only among one text's translations. An unrelated article in the customer's language is no answer: the
    Italian returns page does not answer "do you ship to Switzerland?" better than the English customs page.

    The search's ranking score comes before the passage's cosine: a voucher question's gift-card article
    ranked 0.62 against 0.03 for the next, while a sentence of the matching-pieces guide came closer to it."""
    grouped = [(translation_group(answer.id, answer.locale), answer) for answer in found]
    group_best: dict[str, tuple[float, float]] = {}
    for group, answer in grouped:
        search, sentence = group_best.get(group, (-1.0, -1.0))
        group_best[group] = (max(search, answer.search_score), max(sentence, answer.sentence_score))
    ordered = sorted(
        grouped,
        key=lambda pair: (
            group_best[pair[0]],
            pair[0],
            -language_tier(pair[1].locale, locale),
            pair[1].sentence_score,
        ),
        reverse=True,
    )
    return [answer for _, answer in ordered]


@dataclass(frozen=True)
class _AnswerSearch:
    """One question's article search: the articles above the threshold whose reason fits, each with its
    passage closest to the question, best first."""

    session: Session
    engine: SearchEngine
    tenant_id: str
    channel: str
    locale: str
    threshold: float | None
    topic: str
    # An open question: the seller's page on it before an order reason's (``prefers_open_pages``).
    prefer_open_pages: bool = False

    def __call__(
        self, query: str, tags: tuple[str, ...] | None, *, shop_pages_only: bool = False
    ) -> list[AnsweringArticle]:
        result = suggest(
            self.session,
            self.engine,
            tenant_id=self.tenant_id,
            query=query,
            channel=self.channel,
            locale=self.locale,
            # Room for the best text's translations beside it: the customer's language is chosen among them.
            top_k=2 * ARTICLES_PER_QUESTION,
            threshold=self.threshold,
            tags=tags,
            # By score, not the widget's language tiers: the widget lists a third language last, but the
            # draft cites one article, and a German voucher question's only answer was the Italian
            # gift-card page, cut from the first three behind unrelated German and English ones.
            params=replace(params_from_settings(get_settings()), language_order="score"),
            snippets=False,
        )
        # A search hit on another reason does not answer this one (a tracking question is not
        # answered by the returns article just because both mention the parcel).
        on_topic = [s for s in result.suggestions if tags is None or answers_topic(self.topic, s.tags)]
        if self.prefer_open_pages:
            open_pages = [s for s in on_topic if _open_page(s.tags)]
            on_topic = open_pages or on_topic
        if shop_pages_only:
            on_topic = [s for s in on_topic if "product_question" not in reason_tags(s.tags)]
        if not on_topic:
            return []
        ids = [s.id for s in on_topic]
        by_id = {
            a.external_id: a
            for a in self.session.scalars(
                select(Article).where(Article.tenant_id == self.tenant_id, Article.external_id.in_(ids))
            )
        }
        vector = self.engine.encode_query(query, COLLECTION)  # the search's own vector, from the cache
        prepare_articles(self.engine, [a for a in (by_id.get(s.id) for s in on_topic) if a is not None])
        found: list[AnsweringArticle] = []
        for suggestion in on_topic:
            article = by_id.get(suggestion.id)
            answer = (
                _best_passage(
                    self.engine, article, vector, suggestion.confidence, self.channel, suggestion.score
                )
                if article
                else None
            )
            if answer is not None:
                found.append(answer)
        # Every one is above the threshold; the search's best text answers, its closest passage quoted.
        return best_answers_first(found, self.locale)[:ARTICLES_PER_QUESTION]


def prefers_open_pages(question: Question) -> bool:
    """Whether an untagged question is answered by the seller's page on it before an order reason's page.

    "Do you sell gift vouchers?" shares words with the tracking page, "can I pay with Bizum?" with the
    refunds page: a page the seller tagged with an order reason answers it only when nothing else fits. Unless
    the classifier, under its floor, also found that order reason closest ("aho ma 'sto pacco?", "Amazon says
    the refund was issued on the 1st"): two weak signals agreeing, the order reason's page answers."""
    return question.topic == "other" and (
        not question.closest_topic or question.closest_topic in ARTICLE_TOPICS
    )


def _open_page(tags: Sequence[str]) -> bool:
    """A page on no order reason, or one the seller also tagged as a product question or "other"."""
    reasons = reason_tags(tags)
    return not reasons or bool(reasons & ARTICLE_TOPICS)


def _search_tags(topic: str) -> tuple[str, ...] | None:
    """The reason tags an answering article may carry (None: any article, for an open question)."""
    if topic == "other":
        return None
    if topic in ARTICLE_TOPICS:
        return tuple(sorted(ARTICLE_TOPICS))
    return (topic,)


def articles_for_question(
    session: Session,
    engine: SearchEngine | None,
    *,
    tenant_id: str,
    question: Question,
    channel: str,
    locale: str,
    threshold: float | None,
    items: str = "",
    articles: list[Article] | None = None,
) -> list[AnsweringArticle]:
    """The articles that answer ``question``, best first (the draft cites the first)."""
    found: list[AnsweringArticle] = []
    tags = _search_tags(question.topic)
    if engine is not None:
        search = _AnswerSearch(
            session,
            engine,
            tenant_id,
            channel,
            locale,
            threshold,
            question.topic,
            prefer_open_pages=prefers_open_pages(question),
        )
        query = question_query(question, items)
        found = search(query, tags)
        if not found and tags is None and items:
            # An open question about what was bought ("please skip January's box") names it only
            # through the order. Only a page on the shop answers it that way, never a product's guide:
            # with the items added, "do you ship to the Canaries?" found the battery guide, "could you
            # add initials to the cuffs?" the shirt size guide (development shops, labelled pages).
            found = search(f"{query} {items}", tags, shop_pages_only=True)
    if not found and tags is not None:
        pool = articles
        if pool is None:
            pool = list(session.scalars(select(Article).where(Article.tenant_id == tenant_id)))
        tagged = _by_reason_tag(pool, question, channel, locale, items)
        if tagged is not None:
            found.append(_first_prose(tagged))
    return found
