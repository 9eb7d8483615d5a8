"""For an agent: per question of a ticket, the help articles that answer it and the sentence that does.

The ticket is split into questions by replies.segmentation (the draft composer's splitter). Each question is
searched like a widget query (same ranking, channel and locale, abstain threshold, narrowed to the question's
reason when it has one). In each suggested article the answering sentence is the one whose vector is closest
to the question's; it is returned with its paragraph (`passage`) and the [start, end) offsets of the sentence
in that paragraph.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from history.lookup import get_ticket
from kb.models import Article
from kb.service import COLLECTION
from kb.suggest import suggest
from replies.segmentation import Question, segment, sentences

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

ARTICLES_PER_QUESTION = 3
MIN_SENTENCE_CHARS = 15
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


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
    threshold: float | None
    questions: list[QuestionArticles]


def _candidates(body: str) -> list[tuple[int, int, int, int]]:
    """(paragraph start, paragraph end, sentence start, sentence end) of every prose sentence of a body."""
    found: list[tuple[int, int, int, int]] = []
    position = 0
    for piece in _PARAGRAPH_BREAK.split(body):
        start = body.index(piece, position)
        end = start + len(piece)
        position = end
        if piece.lstrip().startswith("#"):
            continue
        for s, e in sentences(piece):
            if e - s >= MIN_SENTENCE_CHARS:
                found.append((start, end, start + s, start + e))
    return found


def _answer(
    engine: SearchEngine, article: Article, query_vector: np.ndarray, confidence: float
) -> AnsweringArticle | None:
    spans = _candidates(article.body)
    if not spans:
        return None
    vectors = engine.encoder_for(COLLECTION).encode(
        [article.body[s:e] for _, _, s, e in spans], kind="passage"
    )
    scores = vectors @ query_vector
    best = int(np.argmax(scores))
    p_start, p_end, s_start, s_end = spans[best]
    return AnsweringArticle(
        id=article.external_id,
        title=article.title,
        url=article.url,
        locale=article.locale,
        confidence=confidence,
        passage=article.body[p_start:p_end],
        passage_start=p_start,
        highlight=(s_start - p_start, s_end - p_start),
        sentence_score=round(float(scores[best]), 4),
    )


def articles_for_ticket(
    session: Session, engine: SearchEngine, *, tenant_id: str, ticket_id: str, threshold: float | None
) -> TicketArticles:
    """The answering articles of every question of the ticket."""
    ticket = get_ticket(session, tenant_id=tenant_id, ticket_id=ticket_id)
    text = ticket.text
    questions = segment(text) or [Question(topic="other", text=text.strip(), spans=[(0, len(text))])]
    out: list[QuestionArticles] = []
    for question in questions:
        tags = (question.topic,) if question.topic != "other" else None
        result = suggest(
            session,
            engine,
            tenant_id=tenant_id,
            query=question.text,
            channel=ticket.channel,
            locale=ticket.locale,
            top_k=ARTICLES_PER_QUESTION,
            threshold=threshold,
            tags=tags,
        )
        ids = [s.id for s in result.suggestions]
        articles = {
            a.external_id: a
            for a in session.scalars(
                select(Article).where(Article.tenant_id == tenant_id, Article.external_id.in_(ids))
            )
        }
        vector = engine.encode_query(question.text, COLLECTION) if ids else None
        answers = []
        for suggestion in result.suggestions:
            article = articles.get(suggestion.id)
            answer = (
                _answer(engine, article, vector, suggestion.confidence)
                if article is not None and vector is not None
                else None
            )
            if answer is not None:
                answers.append(answer)
        out.append(
            QuestionArticles(topic=question.topic, text=question.text, spans=question.spans, articles=answers)
        )
    return TicketArticles(
        ticket_id=ticket.external_id,
        channel=ticket.channel,
        locale=ticket.locale,
        ticket_text=text,
        threshold=threshold,
        questions=out,
    )
