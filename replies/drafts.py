"""The draft composer: one reply that answers every question with verified facts, checked for compliance."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import accumulate
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance import service as compliance
from compliance.channels import get_ruleset
from compliance.detectors import detect_sensitive_data, find_email_spans, find_phone_spans, link_host
from compliance.schemas import ComplianceResult
from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError
from core.redact import redact as redact_secrets
from core.schemas import MARKETPLACES, reason_tags
from core.settings import Settings
from core.text import sentence_spans
from history.identity import find_order_ids
from history.lookup import get_ticket
from history.models import Order, Ticket
from history.service import get_order, orders_for_customer
from kb.models import Article
from kb.suggest import article_cutoff, prepare_article_queries
from replies import macros, rewriter
from replies.answers import (
    ARTICLE_TOPICS,
    POLICY_TOPICS,
    AnsweringArticle,
    QuestionArticles,
    TicketArticles,
    articles_for_question,
    breaks_channel_rules,
    question_query,
    text_blocks,
)
from replies.factcheck import check_facts
from replies.facts import CHANNEL_NAMES, Fact, customer_name, order_facts
from replies.intents import (
    HEAD_MODE,
    MAX_TENANT_EXAMPLES,
    HeadClassifier,
    classifier_for,
    head_for,
)
from replies.message import customer_message, is_form_subject, latest_reply
from replies.models import Draft
from replies.schemas import (
    ArticleCited,
    DraftCheckRead,
    DraftCreate,
    DraftRead,
    FactCheckRead,
    FactUsed,
    MacroUsed,
    NeedsYou,
    QuestionCoverage,
    RewriteRead,
)
from replies.segmentation import Classifier, Question, asked_before_buying, segment

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

SUPPORTED_LOCALES = ("en", "fr", "de", "es", "it")
EXCERPT_CHARS = 300
# A paragraph is written only when the question's reason is at least this sure; below it the question goes
# to the agent ("needs you") with the reason. Pattern-tagged questions score 0.9 (0.6 through an ambiguous
# word), example-tagged ones their cosine, an untagged question 0.5, an article picked by its reason tag
# alone REASON_TAG_CONFIDENCE. 0.4 is the examples classifier's own floor (replies/intents.py, chosen on
# the demo set): an answer is never surer than the tag it answers. A search-found article passes the
# tenant's calibrated abstain threshold on top.
CONFIDENCE_FLOOR = 0.4
# Facts a reply must keep verbatim: the checker never flags them and the fixer never edits them.
PROTECTED_FACTS = frozenset(
    {"order_id", "tracking_number", "tracking_url", "refund_id", "refund_amount", "order_total"}
)
_MISSING_REASON = {
    "carrier": "no shipment with a carrier is recorded",
    "tracking_number": "no tracking number is recorded",
    "shipment_state": "no shipment is recorded",
    "shipment_status": "no shipment is recorded",
    "refund_id": "no refund is recorded",
    "refund_state": "no refund is recorded",
    "refund_status": "no refund is recorded",
    "refund_amount": "no refund is recorded",
    "order_state": "the order has no status",
    "items": "the order has no items recorded",
    "item_title": "the order has no items recorded",
}


@dataclass
class _Answer:
    question: Question
    status: str
    reason: str
    order: Order | None = None
    text: str = ""
    macro: macros.RenderedMacro | None = None
    article: AnsweringArticle | None = None
    confidence: float = 0.0
    source: str = ""
    # Answered from the topic's article without an order: the reply asks for the order number.
    asks_order_number: bool = False


@dataclass
class _Planned:
    """One question with what answers it: its order and the articles, best first."""

    question: Question
    order: Order | None
    articles: list[AnsweringArticle]


@dataclass
class _Context:
    tenant_id: str
    channel: str
    locale: str
    message: str
    customer_id: int | None
    default_order_id: str | None
    contact_at: datetime
    threshold: float | None  # kb.suggest.article_cutoff: None = the shipped per-language cut-offs
    question_classifier: str = "head"
    form_topic: str | None = None
    # Sentences no question covers that may still ask something (see segmentation.segment).
    unclear: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    orders: dict[str, Order | None] = field(default_factory=dict)

    def order(self, session: Session, order_id: str) -> Order | None:
        if order_id not in self.orders:
            self.orders[order_id] = get_order(session, tenant_id=self.tenant_id, order_id=order_id)
        return self.orders[order_id]


def _unquoted_order(
    session: Session, ctx: _Context, answers: list[_Answer], written: list[_Answer]
) -> str | None:
    """The order the message is about when no answer names it (an answer on customs or a voucher quotes no
    order): the greeting names it then, so the customer and the next agent know which order this is."""
    linked = ctx.order(session, ctx.default_order_id) if ctx.default_order_id else None
    linked = linked or next((a.order for a in answers if a.order is not None), None)
    if linked is None or any(linked.order_id in a.text for a in written):
        return None
    return linked.order_id


def _context(
    session: Session,
    *,
    tenant_id: str,
    request: DraftCreate,
    settings: Settings,
    engine: SearchEngine | None,
) -> tuple[_Context, Ticket | None]:
    ticket = None
    if request.ticket_id:
        ticket = get_ticket(session, tenant_id=tenant_id, ticket_id=request.ticket_id)
    if request.text:
        message = latest_reply(request.text)
    elif ticket is not None:
        message = customer_message(ticket.subject, ticket.body)
    else:
        message = ""
    channel = request.channel or (ticket.channel if ticket else None)
    if not channel or not message.strip():
        raise InvalidInputError("the draft needs the customer's text and the channel")
    locale = (
        request.locale or (ticket.locale if ticket else None) or compliance.detect_locale(message)
    ).split("-")[0]
    if locale not in SUPPORTED_LOCALES:
        locale = "en"
    # The widget's cut-off (per language unless the tenant calibrated its own): a question the widget
    # would abstain on gets no cited article in the draft either.
    threshold = article_cutoff(session, engine, tenant_id=tenant_id) if engine is not None else None
    ctx = _Context(
        tenant_id=tenant_id,
        channel=channel,
        locale=locale,
        message=message,
        customer_id=request.customer_id or (ticket.customer_id if ticket else None),
        default_order_id=request.order_id or (ticket.order_id if ticket else None),
        contact_at=ticket.created_at if ticket else utcnow(),
        threshold=threshold,
        question_classifier=settings.question_classifier,
        form_topic=ticket.tags[0]
        if ticket is not None and is_form_subject(ticket.subject) and ticket.tags
        else None,
        articles=list(session.scalars(select(Article).where(Article.tenant_id == tenant_id))),
    )
    if ctx.customer_id is None and ctx.default_order_id:
        linked = ctx.order(session, ctx.default_order_id)  # kept: the questions resolve it again
        ctx.customer_id = linked.customer_id if linked else None
    return ctx, ticket


def _plan(session: Session, ctx: _Context, engine: SearchEngine | None) -> list[_Planned]:
    """The questions of the message, each with its order and its answering articles.

    The draft and the agent's per-question article panel both read this, so they cannot disagree.
    """
    classifier = _classifier(session, ctx, engine)
    # Whether the head is also asked about sentences the patterns are sure of was chosen leave-one-shop-out
    # (replies/intents.py); the nearest-example baseline only hears what they are unsure of, as measured.
    questions = segment(
        ctx.message,
        classifier,
        unclear=ctx.unclear,
        mode=HEAD_MODE if ctx.question_classifier == "head" else "fallback",
    )
    if not questions and ctx.form_topic:
        # Nothing asked in words: the topic the customer picked in the contact form is the question.
        questions = [
            Question(
                topic=ctx.form_topic, text=ctx.message.strip(), spans=[(0, len(ctx.message))], confidence=0.6
            )
        ]
    questions = [asked_before_buying(question) for question in questions]
    orders = [_resolve_order(session, ctx, question) for question in questions]
    items_of = [" ".join(i.title for i in order.items) if order else "" for order in orders]
    if engine is not None:
        prepare_article_queries(
            engine,
            tenant_id=ctx.tenant_id,
            queries=[question_query(q, items) for q, items in zip(questions, items_of, strict=True)],
            locale=ctx.locale,
        )
    planned: list[_Planned] = []
    for question, order, items in zip(questions, orders, items_of, strict=True):
        found = articles_for_question(
            session,
            engine,
            tenant_id=ctx.tenant_id,
            question=question,
            channel=ctx.channel,
            locale=ctx.locale,
            threshold=ctx.threshold,
            items=items,
            articles=ctx.articles,
        )
        planned.append(_Planned(topic_named_by_answer(question, found, ctx.articles), order, found))
    return planned


# Heads trained on a tenant's tickets, by (encoder, tenant, tagged-ticket count, newest ticket): a new or
# re-imported ticket retrains the head on the next draft; until then the draft reads no ticket rows.
_HeadKey = tuple[str, str, int, int]
_tenant_heads: dict[_HeadKey, HeadClassifier | None] = {}
# The server's warm-up fits every tenant's head while agents already draft: one fit per head (the
# second caller waits for the first), and a tenant's fit never holds back another tenant's draft.
_heads_guard = threading.Lock()
_heads_fitting: dict[_HeadKey, threading.Lock] = {}


def _classifier(session: Session, ctx: _Context, engine: SearchEngine | None) -> Classifier | None:
    if engine is None:
        return None
    return question_classifier(session, tenant_id=ctx.tenant_id, kind=ctx.question_classifier, engine=engine)


def question_classifier(
    session: Session, *, tenant_id: str, kind: str, engine: SearchEngine
) -> Classifier | None:
    """The sentence classifier the settings name; the head learns the tenant's own tagged tickets.

    Fitting a tenant's head encodes its tickets (10 s for the demo shop): a server's warm-up calls this
    for every tenant, so an agent's first draft after a restart does not wait for it.
    """
    encoder = engine.encoder_for("articles")
    if kind == "examples" or not encoder.semantic:
        return classifier_for(encoder)
    # Only human tags teach: auto-tagged tickets would teach the head its own mistakes.
    human = (Ticket.tenant_id == tenant_id, Ticket.tag_source == "import")
    count, newest = session.execute(select(func.count(), func.max(Ticket.id)).where(*human)).one()
    key = (f"{encoder.name}:{encoder.version}", tenant_id, int(count or 0), int(newest or 0))
    with _heads_guard:
        if key in _tenant_heads:
            return _tenant_heads[key]
        fitting = _heads_fitting.setdefault(key, threading.Lock())
    with fitting:
        with _heads_guard:
            if key in _tenant_heads:
                return _tenant_heads[key]
        rows = session.execute(
            select(Ticket.tags, Ticket.subject, Ticket.body)
            .where(*human)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(MAX_TENANT_EXAMPLES)
        ).all()
        extra = [(list(tags), customer_message(subject, body)) for tags, subject, body in rows if tags]
        head = head_for(encoder, extra=extra, extra_key=":".join(map(str, key)))
        with _heads_guard:
            if len(_tenant_heads) > 256:
                _tenant_heads.pop(next(iter(_tenant_heads)))
            _tenant_heads[key] = head
            _heads_fitting.pop(key, None)
    return head


def compose(
    session: Session,
    *,
    tenant_id: str,
    request: DraftCreate,
    settings: Settings,
    engine: SearchEngine | None = None,
    created_by_key: int | None = None,
) -> DraftRead:
    """Composes, checks, stores and returns one draft reply."""
    started = time.perf_counter()
    ctx, ticket = _context(session, tenant_id=tenant_id, request=request, settings=settings, engine=engine)
    planned = _plan(session, ctx, engine)
    answers = _deduplicate([_answer(session, ctx, p) for p in planned])
    if ctx.customer_id is None:
        ctx.customer_id = next(
            (a.order.customer_id for a in answers if a.order and a.order.customer_id), None
        )
    name = (
        customer_name(session, tenant_id=tenant_id, customer_id=ctx.customer_id) if ctx.customer_id else None
    )
    # Unanswered questions keep their place with the holding line: the customer sees each one taken up.
    written = [a for a in answers if a.text]
    greeted_order = _unquoted_order(session, ctx, answers, written)
    greeting = macros.render_macro(
        session,
        tenant_id=tenant_id,
        key="greeting",
        channel=ctx.channel,
        locale=ctx.locale,
        variables={"customer_name": name, "order_id": greeted_order},
    )
    closing = macros.render_macro(
        session, tenant_id=tenant_id, key="closing", channel=ctx.channel, locale=ctx.locale, variables={}
    )
    # Asked once, after the answers; a holding line without an order already asks for it.
    order_request = (
        macros.render_macro(
            session,
            tenant_id=tenant_id,
            key="order_number_request",
            channel=ctx.channel,
            locale=ctx.locale,
            variables={},
        )
        if any(a.asks_order_number for a in written)
        and not any(a.status != "answered" and a.order is None for a in written)
        else None
    )
    requests = [order_request.text] if order_request else []
    reply = "\n\n".join([greeting.text, *(a.text for a in written), *requests, closing.text])

    used_macros = [
        greeting,
        *(a.macro for a in written if a.macro),
        *([order_request] if order_request else []),
        closing,
    ]
    facts = _facts_used(answers, ctx, reply)
    cited_ids = list(dict.fromkeys(a.article.id for a in answers if a.status == "answered" and a.article))
    by_id = {art.external_id: art for art in ctx.articles}
    cited = [by_id[i] for i in cited_ids if i in by_id]
    order_fact_rows = [f for a in answers if a.order for f in _order_facts(a.order, ctx)]
    sources = [f.value for f in order_fact_rows]
    sources += [f"{art.title}\n{art.body}\n{art.url or ''}" for art in cited]
    # The order the greeting names is in the history even when no answer read its facts.
    sources += [name or "", greeted_order or ""]
    keep = sorted({f.value for f in order_fact_rows if f.name in PROTECTED_FACTS and f.value in reply})

    result = compliance.check(reply, channel=ctx.channel, locale=ctx.locale, facts=keep)
    if result.violations and result.fixed_text != reply:
        reply = result.fixed_text
    fact_check = check_facts(reply, sources)

    rewrite = RewriteRead(attempted=False, accepted=False, reason="rewriter not configured")
    if request.rewrite and settings.rewriter_url:
        outcome = rewriter.rewrite(
            reply, channel=ctx.channel, locale=ctx.locale, sources=sources, settings=settings
        )
        rewrite = RewriteRead(attempted=True, accepted=outcome.accepted, reason=outcome.reason)
        if outcome.accepted and outcome.compliance is not None:
            reply, result = outcome.text, outcome.compliance
            fact_check = check_facts(reply, sources)

    needs_you = _needs_you(answers, keep, reply, result, fact_check.unsupported)
    needs_you += [
        NeedsYou(
            topic=None, text=sentence, reason="not understood: check whether this sentence asks something"
        )
        for sentence in ctx.unclear
        if not any(sentence in a.question.text for a in answers)
    ]
    coverage = [_coverage(a) for a in answers]
    macro_rows = [
        {
            "key": m.key,
            "channel": m.channel,
            "locale": m.locale,
            "version": m.version,
            "id": m.macro_version_id,
            "topic": next((a.question.topic for a in written if a.macro is m), None),
        }
        for m in used_macros
    ]
    draft = Draft(
        tenant_id=tenant_id,
        ticket_id=request.ticket_id,
        customer_id=ctx.customer_id,
        order_id=next((a.order.order_id for a in answers if a.order), ctx.default_order_id),
        channel=ctx.channel,
        locale=ctx.locale,
        message=redact(ctx.message),
        reply=redact(reply),
        topics=[a.question.topic for a in answers],
        coverage=[c.model_dump() for c in coverage],
        macro_versions=macro_rows,
        articles=[a.external_id for a in cited],
        compliance_passed=not result.blocking,
        blocked=result.blocking or not fact_check.passed,
        rewritten=rewrite.accepted,
        contact_at=ctx.contact_at,
        created_by_key=created_by_key,
    )
    session.add(draft)
    session.flush()
    return DraftRead(
        id=draft.id,
        ticket_id=request.ticket_id,
        channel=ctx.channel,
        locale=ctx.locale,
        customer_id=ctx.customer_id,
        reply=reply,
        ready_to_send=bool(answers) and not needs_you,
        needs_you=needs_you,
        questions=coverage,
        facts=facts,
        articles=[ArticleCited(id=a.external_id, title=a.title, url=a.url, locale=a.locale) for a in cited],
        macros=[
            MacroUsed(key=m.key, channel=m.channel, locale=m.locale, version=m.version) for m in used_macros
        ],
        fact_check=FactCheckRead(
            passed=fact_check.passed, checked=fact_check.checked, unsupported=fact_check.unsupported
        ),
        compliance=result,
        rewrite=rewrite,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _coverage(answer: _Answer) -> QuestionCoverage:
    return QuestionCoverage(
        topic=answer.question.topic,
        text=answer.question.text,
        status=answer.status,  # type: ignore[arg-type]
        reason=answer.reason,
        order_id=answer.order.order_id if answer.order else None,
        macro=answer.macro.key if answer.macro else None,
        article_id=answer.article.id if answer.article else None,
        confidence=round(answer.confidence, 4),
        source=answer.source,
    )


def _needs_you(
    answers: list[_Answer],
    kept: list[str],
    reply: str,
    result: ComplianceResult,
    unsupported: list[str],
) -> list[NeedsYou]:
    """Everything that stops the draft from being sent as it is, each with its reason."""
    items = [
        NeedsYou(topic=a.question.topic, text=a.question.text, reason=a.reason)
        for a in answers
        if a.status != "answered"
    ]
    for value in kept:
        if value not in reply:
            items.append(
                NeedsYou(topic=None, text=value, reason=f"a compliance fix would remove the fact {value}")
            )
    for violation in result.remaining_violations:
        inside_fact = any(value in violation.text or violation.text in value for value in kept)
        why = "it would remove a fact the reply needs" if inside_fact else "it cannot be fixed automatically"
        items.append(
            NeedsYou(
                topic=None,
                text=violation.text,
                reason=f"compliance: {violation.rule} still present ({why}): {violation.explanation}",
            )
        )
    for token in unsupported:
        items.append(NeedsYou(topic=None, text=token, reason="a fact in the reply has no source"))
    return items


def topic_named_by_answer(
    question: Question, found: list[AnsweringArticle], articles: list[Article]
) -> Question:
    """A question on one article-answered topic (product question, other) answered by an article the seller
    tagged with the other one is named after that article.

    Whether "are your soaps vegan?" or "is it covered by the warranty?" is a product question or something
    else is the seller's taxonomy, not the sentence's: the classifier splits the two at random (a quarter of
    the development misses were that split), while the article found for it says which it is. Only these two
    topics trade names; reasons answered from the order keep theirs."""
    if question.topic not in ARTICLE_TOPICS or not found or found[0].picked_by != "search":
        return question
    tags = next((a.tags for a in articles if a.external_id == found[0].id), None)
    named = reason_tags(tags or []) & ARTICLE_TOPICS
    if len(named) != 1 or question.topic in named:
        return question
    return replace(question, topic=next(iter(named)))


def _deduplicate(answers: list[_Answer]) -> list[_Answer]:
    """Never the same paragraph twice: a question answered by a paragraph already written is covered by it."""
    seen_text: dict[str, _Answer] = {}
    seen_article: dict[str, _Answer] = {}
    for answer in answers:
        if not answer.text:
            continue
        if answer.status != "answered":
            if answer.text in seen_text:
                answer.text, answer.macro = "", None  # one holding line covers both questions
            else:
                seen_text[answer.text] = answer
            continue
        first = seen_text.get(answer.text) or (
            seen_article.get(answer.article.id)
            if answer.article and answer.macro and answer.macro.key in ("article_answer", "product_question")
            else None
        )
        if first is not None:
            answer.reason = (
                f"answered by the same paragraph as the {first.question.topic} question ({first.reason})"
            )
            answer.text, answer.macro = "", None
            continue
        seen_text[answer.text] = answer
        if answer.article is not None:
            seen_article[answer.article.id] = answer
    return answers


def _order_facts(order: Order, ctx: _Context) -> list[Fact]:
    facts = order_facts(order, ctx.locale, now=ctx.contact_at)
    if ctx.channel in MARKETPLACES:
        # A carrier's tracking page is the one link a marketplace allows, and only where it is allowed.
        ruleset = get_ruleset(ctx.channel)
        facts = [
            f
            for f in facts
            if f.name != "tracking_url"
            or "external_link" not in ruleset.rules
            or ruleset.is_carrier_domain(link_host(f.value))
        ]
    return facts


def _answer(session: Session, ctx: _Context, planned: _Planned) -> _Answer:
    question, order = planned.question, planned.order
    article = planned.articles[0] if planned.articles else None
    confidence = question.confidence
    asks_order_number = False
    if question.marketplace_only and ctx.channel in MARKETPLACES:
        key = "marketplace_help"
        article = None
    elif question.topic in ARTICLE_TOPICS:
        if article is None:
            return _unanswered(
                session,
                ctx,
                question,
                "no macro or help article covers this question"
                + (f"; closest reason {question.closest}" if question.closest else ""),
                order,
            )
        if article.picked_by == "reason_tag":
            # Search found nothing above the threshold: the reason tag alone vouches for the article.
            confidence = min(confidence, article.confidence)
        key = (
            "product_question"
            if question.topic == "product_question" and order and order.items
            else "article_answer"
        )
    elif order is None and question.topic in POLICY_TOPICS and article is not None:
        # "Can we change the delivery address after ordering?" asked before buying, or by a customer who
        # gave no order number: the seller's article on it answers, and the reply asks for the number.
        if article.picked_by == "reason_tag":
            confidence = min(confidence, article.confidence)
        key = "article_answer"
        asks_order_number = True
    else:
        if order is None:
            return _unanswered(
                session,
                ctx,
                question,
                "which order? no order id in the message and none linked to this customer",
                confidence=confidence,
            )
        key = question.topic
    # A tag the sentence classifier gave is measured against that classifier's own calibrated floor;
    # phrase patterns, untagged questions and reason-tag articles against CONFIDENCE_FLOOR.
    floor = CONFIDENCE_FLOOR if question.floor is None else question.floor
    tag_sure = question.confidence >= floor
    if not tag_sure or confidence < min(floor, CONFIDENCE_FLOOR):
        what = (
            f"article {article.id} ({article.picked_by})"
            if article and key != question.topic and tag_sure
            else "the reason"
        )
        floor = floor if not tag_sure else min(floor, CONFIDENCE_FLOOR)
        return _unanswered(
            session,
            ctx,
            question,
            f"not sure enough: confidence {confidence:.2f} in {what} under the floor {floor:.2f}",
            order,
            article=article,
            confidence=confidence,
        )
    variables: dict[str, object] = {f.name: f.value for f in _order_facts(order, ctx)} if order else {}
    variables["channel_name"] = CHANNEL_NAMES.get(ctx.channel, ctx.channel)
    if order is not None:
        variables["channel_name"] = next(
            (f.value for f in order_facts(order, ctx.locale) if f.name == "channel_name"),
            variables["channel_name"],
        )
    if article is not None and key in ("product_question", "article_answer"):
        if breaks_channel_rules(article.title, ctx.channel):
            # The reply names the article; a title the channel forbids ("... gift vouchers" is a promotion
            # on Amazon) cannot be named, and the fixer would cut the answer down to nothing.
            channel = CHANNEL_NAMES.get(ctx.channel, ctx.channel)
            return _unanswered(
                session,
                ctx,
                question,
                f"article {article.id} answers it, but its title is not allowed on {channel}",
                order,
                article=article,
                confidence=confidence,
            )
        found = next((a for a in ctx.articles if a.external_id == article.id), None)
        variables["article_title"] = article.title
        if found is not None and found.locale in (ctx.locale, "en"):
            # An English page is the seller's version for customers without a page in their language
            # (most development help centres translate into English only): quoted, the answer is in the
            # reply; named alone it is a title, and on a marketplace not even a link. A third language is
            # still only named.
            text = passage_excerpt(found.body, article)
            if text:
                variables["article_excerpt"] = text
                if found.locale != ctx.locale:
                    variables["article_language"] = found.locale
        if article.url and ctx.channel not in MARKETPLACES:
            variables["article_url"] = article.url
    try:
        rendered = macros.render_macro(
            session,
            tenant_id=ctx.tenant_id,
            key=key,
            channel=ctx.channel,
            locale=ctx.locale,
            variables=variables,
        )
    except macros.MacroRenderError as exc:
        what = _MISSING_REASON.get(exc.missing or "", exc.message)
        where = f"order {order.order_id}: " if order else ""
        return _unanswered(
            session, ctx, question, f"{where}{what}", order, article=article, confidence=confidence
        )
    except NotFoundError as exc:
        return _unanswered(session, ctx, question, exc.message, order, article=article, confidence=confidence)
    if (
        "article_excerpt" in variables
        and compliance.check(rendered.text, channel=ctx.channel, locale=ctx.locale).blocking
    ):
        # The seller's article may say what this channel forbids ("order from our online shop" on eBay):
        # the reply then names the article without quoting it.
        variables.pop("article_excerpt")
        rendered = macros.render_macro(
            session,
            tenant_id=ctx.tenant_id,
            key=key,
            channel=ctx.channel,
            locale=ctx.locale,
            variables=variables,
        )
    source = f"macro {rendered.key} v{rendered.version}"
    if order is not None and key not in ("article_answer", "marketplace_help"):
        source += f" with facts of order {order.order_id}"
    if article is not None and key in ("product_question", "article_answer"):
        source += f", article {article.id} ({'search' if article.picked_by == 'search' else 'reason tag'})"
    if asks_order_number:
        source += "; no order known: the reply asks for its number"
    return _Answer(
        question,
        "answered",
        source,
        order,
        rendered.text,
        rendered,
        article if key in ("product_question", "article_answer") or key == question.topic else None,
        confidence=confidence,
        source=source,
        asks_order_number=asks_order_number,
    )


def _unanswered(
    session: Session,
    ctx: _Context,
    question: Question,
    reason: str,
    order: Order | None = None,
    *,
    article: AnsweringArticle | None = None,
    confidence: float = 0.0,
) -> _Answer:
    """A question the draft cannot answer is still acknowledged, with the locked holding line
    ("we are checking ... and will come back to you") in the customer's language; it stays needs_agent."""
    answer = _Answer(question, "needs_agent", reason, order, article=article, confidence=confidence)
    variables: dict[str, object] = {"topic": answer.question.topic}
    if answer.order is not None:
        variables["order_id"] = answer.order.order_id
    try:
        rendered = macros.render_macro(
            session,
            tenant_id=ctx.tenant_id,
            key="pending",
            channel=ctx.channel,
            locale=ctx.locale,
            variables=variables,
        )
    except (macros.MacroRenderError, NotFoundError) as exc:
        # An admin may have broken or removed the holding line: the question stays unanswered and says why.
        answer.reason = f"{answer.reason}; holding line unavailable: {exc.message}"
        return answer
    answer.text, answer.macro = rendered.text, rendered
    answer.source = f"macro pending v{rendered.version} (holding line)"
    return answer


def _resolve_order(session: Session, ctx: _Context, question: Question) -> Order | None:
    """Explicit id in the question, else the nearest one mentioned before it, else the linked/most recent
    order."""
    start = question.spans[0][0]
    in_question = [oid for s, e in question.spans for oid in find_order_ids(ctx.message[s:e])]
    before = find_order_ids(ctx.message[:start])
    anywhere = find_order_ids(ctx.message)
    for candidate in [
        *in_question,
        *reversed(before),
        *anywhere,
        *([ctx.default_order_id] if ctx.default_order_id else []),
    ]:
        order = ctx.order(session, candidate)
        if order is not None:
            return order
    if ctx.customer_id is None:
        return None
    orders = orders_for_customer(session, tenant_id=ctx.tenant_id, customer_id=ctx.customer_id)
    if not orders:
        return None
    relevant = {
        "tracking": lambda o: any(s.status.lower() != "delivered" for s in o.shipments),
        "refund_status": lambda o: bool(o.refunds),
        "cancellation": lambda o: o.status.lower() not in ("delivered", "cancelled", "canceled"),
    }.get(question.topic)
    if relevant is not None:
        for order in orders:
            if relevant(order):
                return order
    return orders[0]


def _clean(line: str) -> str:
    text = re.sub(r"[#*_`>|]+", "", line).strip()
    return re.sub(r"^[-•]\s*|^\d+[.)]\s+", "", text).strip()


def passage_excerpt(body: str, answer: AnsweringArticle) -> str:
    """What the reply quotes from an article: its opening prose, then the sentence that answers the
    question when the opening does not hold it (with the line that introduces a list item)."""
    intro = excerpt(body)
    start = answer.passage_start + answer.highlight[0]
    end = answer.passage_start + answer.highlight[1]
    if answer.picked_by != "search" or end <= start:
        return intro
    best = _table_row(answer.passage, answer.highlight) or _clean(body[start:end])
    if not best or _clean(best) in intro:
        return intro
    if body[start:end].lstrip().startswith(("-", "•", "*")) or re.match(r"\s*\d+[.)]\s", body[start:end]):
        lead = next(
            (
                _clean(line)
                for line in reversed(body[answer.passage_start : start].splitlines())
                if _clean(line) and not line.lstrip().startswith(("-", "•", "*"))
            ),
            "",
        )
        best = f"{lead} {best}".strip() if lead.endswith(":") else best
    best = best.rstrip(";,") + ("" if best.endswith((".", "!", "?", ":")) else ".")
    best = best[:1].upper() + best[1:]
    return f"{intro} {best}".strip() if len(intro) + len(best) < 2 * EXCERPT_CHARS else best


_TABLE_RULE = re.compile(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?")


def _cells(line: str) -> list[str]:
    return [_clean(cell) for cell in line.strip().strip("|").split("|")]


def _table_row(passage: str, highlight: tuple[int, int]) -> str:
    """A table row that answers, read with its column names ("Pot: Classic terracotta 40 cm; Rim Ø: 40 cm;
    Height: 34 cm"): its cells alone read "Classic terracotta 40 cm 40 cm 34 cm ~28 L" in a development
    reply. "" where the answer is not a row of a table with a header."""
    lines = passage.splitlines(keepends=True)
    ends = list(accumulate(len(line) for line in lines))
    row = next((i for i, end in enumerate(ends) if highlight[0] < end), None)
    if row is None or not lines[row].lstrip().startswith("|"):
        return ""
    rule = next((i for i in range(row - 1, 0, -1) if _TABLE_RULE.fullmatch(lines[i].strip())), None)
    if rule is None:
        return ""
    names, cells = _cells(lines[rule - 1]), _cells(lines[row])
    if len(names) != len(cells):
        return ""
    pairs = zip(names, cells, strict=True)
    return "; ".join(f"{name}: {cell}" if name else cell for name, cell in pairs if cell)


# "and" / "or" in the five reply languages: an item ending with one runs on into the next.
_LIST_CONJUNCTIONS = frozenset({"and", "or", "und", "oder", "et", "ou", "y", "o", "u", "e", "ed", "od"})


def _run_in(block: str) -> str:
    """A list read as one sentence: its lead-in line, then the items, each but the last ended with a
    semicolon unless it has its own punctuation ("You can pay with: Visa; PayPal; Bizum")."""
    parts: list[str] = []
    after_item = False
    for line in block.splitlines():
        item = re.match(r"\s*[-•]\s+", line)
        text = line[item.end() :].strip() if item else line.strip()
        if not text:
            continue
        previous = parts[-1] if parts else ""
        if item and after_item and not previous.endswith((".", ":", ";", ",", "!", "?")):
            # "eine Stornierung bestätigt ist, oder" runs on into the next item.
            if previous.rsplit(" ", 1)[-1] not in _LIST_CONJUNCTIONS:
                parts[-1] += ";"
        parts.append(text)
        after_item = item is not None
    return " ".join(parts)


def _is_table(block: str) -> bool:
    return any(line.lstrip().startswith("|") for line in block.splitlines())


_BOLD_HEADING_LINE = re.compile(r"^[ \t]*(\*\*|__)[^*_\n]+(?<![.!])\1:?[ \t]*(?:\n|$)", re.MULTILINE)


def excerpt(body: str) -> str:
    """The article's first paragraph of prose, cut at a sentence end."""
    blocks = [body[start:end] for start, end in text_blocks(body)]
    for index, block in enumerate(blocks):
        if _is_table(block):
            continue  # a table run into one line reads as raw markup in the reply ("| Espresso | 2-3 |")
        if block.rstrip().endswith(":") and index + 1 < len(blocks) and not _is_table(blocks[index + 1]):
            # "You can pay with:" and, after a blank line, the list it introduces: one sentence.
            block = f"{block}\n{blocks[index + 1]}"
        text = re.sub(r"[#*_`>]+", "", block).strip()
        if not text or text.startswith("-") or len(text) < 40:
            continue
        # A line in bold alone is the section's heading, not the first words of its sentence: kept, a reply
        # quoted "Types Digital voucher as a PDF by e-mail ..." (50 of 974 development and held-out excerpts).
        text = re.sub(r"[#*_`>]+", "", _BOLD_HEADING_LINE.sub("", block)).strip()
        text = re.sub(r"\s+", " ", _run_in(text))
        if text.endswith(":"):
            # The table it introduces is not quoted ("This is our size guide:"): the line says nothing alone.
            spans = sentence_spans(text)
            text = text[: spans[-2][1]] if len(spans) > 1 else ""
            if len(text) < 40:
                continue
        if len(text) <= EXCERPT_CHARS:
            return text
        ends = [e for _, e in sentence_spans(text) if 60 < e <= EXCERPT_CHARS]
        return text[: ends[-1]] if ends else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return ""


def _facts_used(answers: list[_Answer], ctx: _Context, reply: str) -> list[FactUsed]:
    seen: dict[tuple[str, str], Fact] = {}
    for answer in answers:
        if answer.order is None or not answer.text:
            continue
        for fact in _order_facts(answer.order, ctx):
            if fact.name.endswith("_state") or fact.name in ("channel_name", "delayed", "refund_partial"):
                continue
            if fact.value and fact.value in reply:
                seen.setdefault((fact.name, fact.value), fact)
    return [FactUsed(name=f.name, value=f.value, source=f.source) for f in seen.values()]


def articles_for_ticket(
    session: Session, engine: SearchEngine, *, tenant_id: str, ticket_id: str, settings: Settings
) -> TicketArticles:
    """The agent's panel: per question of the ticket, the articles that answer it, best first.

    The same questions, orders and article choice as the draft (one computation): the draft cites the
    first article of each question it answers with an article.
    """
    ctx, ticket = _context(
        session,
        tenant_id=tenant_id,
        request=DraftCreate(ticket_id=ticket_id),
        settings=settings,
        engine=engine,
    )
    assert ticket is not None
    questions = [
        QuestionArticles(
            topic=p.question.topic, text=p.question.text, spans=p.question.spans, articles=p.articles
        )
        for p in _plan(session, ctx, engine)
    ]
    return TicketArticles(
        ticket_id=ticket.external_id,
        channel=ctx.channel,
        locale=ctx.locale,
        ticket_text=ctx.message,
        threshold=ctx.threshold,
        questions=questions,
    )


def recheck(session: Session, *, tenant_id: str, draft_id: int, text: str) -> DraftCheckRead:
    """Re-checks an agent's edit of a stored draft before it is sent: compliance with the same facts kept
    verbatim, every number, id and date still backed by a source, and the facts the draft needed."""
    draft = session.scalar(select(Draft).where(Draft.tenant_id == tenant_id, Draft.id == draft_id))
    if draft is None:
        raise NotFoundError(f"no draft {draft_id}")
    order_ids = dict.fromkeys([*(c.get("order_id") for c in draft.coverage), draft.order_id])
    ctx = _Context(
        tenant_id=tenant_id,
        channel=draft.channel,
        locale=draft.locale,
        message="",
        customer_id=draft.customer_id,
        default_order_id=draft.order_id,
        contact_at=draft.contact_at,
        threshold=0.0,
    )
    orders = [o for o in (ctx.order(session, oid) for oid in order_ids if oid) if o is not None]
    order_fact_rows = [f for o in orders for f in _order_facts(o, ctx)]
    articles = list(
        session.scalars(
            select(Article).where(Article.tenant_id == tenant_id, Article.external_id.in_(draft.articles))
        )
    )
    name = (
        customer_name(session, tenant_id=tenant_id, customer_id=draft.customer_id)
        if draft.customer_id
        else None
    )
    sources = [f.value for f in order_fact_rows] + [f"{a.title}\n{a.body}\n{a.url or ''}" for a in articles]
    sources += [name or ""]
    needed = sorted(
        {f.value for f in order_fact_rows if f.name in PROTECTED_FACTS and f.value in draft.reply}
    )
    kept = [value for value in needed if value in text]
    result = compliance.check(text, channel=draft.channel, locale=draft.locale, facts=kept)
    fact_check = check_facts(text, sources)
    missing = [value for value in needed if value not in text]
    unanswered = [c["topic"] for c in draft.coverage if c.get("status") != "answered"]
    return DraftCheckRead(
        draft_id=draft.id,
        compliance=result,
        fact_check=FactCheckRead(
            passed=fact_check.passed, checked=fact_check.checked, unsupported=fact_check.unsupported
        ),
        missing_facts=missing,
        unanswered_topics=unanswered,
        ready_to_send=not result.violations and fact_check.passed and not unanswered,
    )


def redact(text: str) -> str:
    """Masks card numbers, IBANs, secrets, e-mail addresses and phone numbers before a text is stored.

    core.redact first: it also knows passwords, one-time codes and API keys, which the compliance
    detectors (written for what a reply may say) do not look for.
    """
    text = redact_secrets(text)
    spans = [(f.start, f.end) for f in detect_sensitive_data(text, get_ruleset("email"))]
    spans += find_email_spans(text) + find_phone_spans(text)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + "[redacted]" + text[end:]
    return text
