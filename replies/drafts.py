"""The draft composer: one reply that answers every question with verified facts, checked for compliance."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import service as compliance
from compliance.channels import get_ruleset
from compliance.detectors import detect_sensitive_data, find_email_spans, find_phone_spans
from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError
from core.redact import redact as redact_secrets
from core.schemas import MARKETPLACES
from core.settings import Settings
from history.identity import find_order_ids
from history.lookup import get_ticket
from history.models import Order
from history.service import get_order, orders_for_customer
from kb.models import Article
from replies import macros, rewriter
from replies.factcheck import check_facts
from replies.facts import Fact, customer_name, order_facts
from replies.intents import classifier_for
from replies.models import Draft
from replies.schemas import (
    ArticleCited,
    DraftCreate,
    DraftRead,
    FactCheckRead,
    FactUsed,
    MacroUsed,
    QuestionCoverage,
    RewriteRead,
)
from replies.segmentation import Question, fold, segment

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

SUPPORTED_LOCALES = ("en", "fr", "de", "es", "it")
# Reasons answered by an article alone; the others need the order's facts in a macro.
ARTICLE_TOPICS = frozenset({"product_question", "wrong_item", "delivery_change", "other"})
EXCERPT_CHARS = 300
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
    article: Article | None = None


@dataclass
class _Context:
    tenant_id: str
    channel: str
    locale: str
    message: str
    customer_id: int | None
    default_order_id: str | None
    articles: list[Article] = field(default_factory=list)
    orders: dict[str, Order | None] = field(default_factory=dict)

    def order(self, session: Session, order_id: str) -> Order | None:
        if order_id not in self.orders:
            self.orders[order_id] = get_order(session, tenant_id=self.tenant_id, order_id=order_id)
        return self.orders[order_id]


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
    ticket = None
    if request.ticket_id:
        ticket = get_ticket(session, tenant_id=tenant_id, ticket_id=request.ticket_id)
    message = request.text or (
        f"{ticket.subject}\n{ticket.body}" if ticket and ticket.subject else ticket.body if ticket else ""
    )
    channel = request.channel or (ticket.channel if ticket else None)
    if not channel or not message.strip():
        raise InvalidInputError("the draft needs the customer's text and the channel")
    locale = (
        request.locale or (ticket.locale if ticket else None) or compliance.detect_locale(message)
    ).split("-")[0]
    if locale not in SUPPORTED_LOCALES:
        locale = "en"
    ctx = _Context(
        tenant_id=tenant_id,
        channel=channel,
        locale=locale,
        message=message,
        customer_id=request.customer_id or (ticket.customer_id if ticket else None),
        default_order_id=request.order_id or (ticket.order_id if ticket else None),
        articles=list(session.scalars(select(Article).where(Article.tenant_id == tenant_id))),
    )
    if ctx.customer_id is None and ctx.default_order_id:
        linked = get_order(session, tenant_id=tenant_id, order_id=ctx.default_order_id)
        ctx.customer_id = linked.customer_id if linked else None
    questions = segment(
        message, classifier_for(engine.encoder_for("articles")) if engine is not None else None
    )
    answers = [_answer(session, ctx, q, engine, settings) for q in questions]
    if ctx.customer_id is None:
        ctx.customer_id = next(
            (a.order.customer_id for a in answers if a.order and a.order.customer_id), None
        )
    name = (
        customer_name(session, tenant_id=tenant_id, customer_id=ctx.customer_id) if ctx.customer_id else None
    )
    greeting = macros.render_macro(
        session,
        tenant_id=tenant_id,
        key="greeting",
        channel=channel,
        locale=locale,
        variables={"customer_name": name},
    )
    closing = macros.render_macro(
        session, tenant_id=tenant_id, key="closing", channel=channel, locale=locale, variables={}
    )
    answered = [a for a in answers if a.status == "answered"]
    # Unanswered questions keep their place with the holding line: the customer sees each one taken up.
    written = [a for a in answers if a.text]
    reply = "\n\n".join([greeting.text, *(a.text for a in written), closing.text])

    used_macros = [greeting, *(a.macro for a in written if a.macro), closing]
    facts = _facts_used(answers, locale, reply)
    cited = _unique_articles(a.article for a in answered if a.article)
    sources = [f.value for a in answers if a.order for f in order_facts(a.order, locale)]
    sources += [f"{art.title}\n{art.body}\n{art.url or ''}" for art in cited]
    sources += [name or ""]

    result = compliance.check(reply, channel=channel, locale=locale)
    if result.violations and result.fixed_text != reply:
        reply = result.fixed_text
    fact_check = check_facts(reply, sources)

    rewrite = RewriteRead(attempted=False, accepted=False, reason="rewriter not configured")
    if request.rewrite and settings.rewriter_url:
        outcome = rewriter.rewrite(reply, channel=channel, locale=locale, sources=sources, settings=settings)
        rewrite = RewriteRead(attempted=True, accepted=outcome.accepted, reason=outcome.reason)
        if outcome.accepted and outcome.compliance is not None:
            reply, result = outcome.text, outcome.compliance
            fact_check = check_facts(reply, sources)

    coverage = [
        QuestionCoverage(
            topic=a.question.topic,
            text=a.question.text,
            status=a.status,  # type: ignore[arg-type]
            reason=a.reason,
            order_id=a.order.order_id if a.order else None,
            macro=a.macro.key if a.macro else None,
            article_id=a.article.external_id if a.article else None,
        )
        for a in answers
    ]
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
        channel=channel,
        locale=locale,
        message=redact(message),
        reply=redact(reply),
        topics=[a.question.topic for a in answers],
        coverage=[c.model_dump() for c in coverage],
        macro_versions=macro_rows,
        articles=[a.external_id for a in cited],
        compliance_passed=not result.blocking,
        blocked=result.blocking or not fact_check.passed,
        rewritten=rewrite.accepted,
        contact_at=ticket.created_at if ticket else utcnow(),
        created_by_key=created_by_key,
    )
    session.add(draft)
    session.flush()
    return DraftRead(
        id=draft.id,
        ticket_id=request.ticket_id,
        channel=channel,
        locale=locale,
        customer_id=ctx.customer_id,
        reply=reply,
        ready_to_send=bool(answers)
        and all(a.status == "answered" for a in answers)
        and fact_check.passed
        and not result.blocking,
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


def _answer(
    session: Session, ctx: _Context, question: Question, engine: SearchEngine | None, settings: Settings
) -> _Answer:
    order = _resolve_order(session, ctx, question)
    article = _pick_article(session, ctx, question, order, engine, settings)
    if question.topic in ARTICLE_TOPICS:
        if article is None:
            return _pending(
                session,
                ctx,
                _Answer(question, "needs_agent", "no macro or help article covers this question", order),
            )
        key = (
            "product_question"
            if question.topic == "product_question" and order and order.items
            else "article_answer"
        )
    else:
        if order is None:
            return _pending(
                session,
                ctx,
                _Answer(
                    question,
                    "needs_agent",
                    "which order? no order id in the message and none linked to this customer",
                ),
            )
        key = question.topic
    variables: dict[str, object] = {f.name: f.value for f in order_facts(order, ctx.locale)} if order else {}
    if article is not None:
        variables["article_title"] = article.title
        if article.locale == ctx.locale:
            variables["article_excerpt"] = excerpt(article.body)
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
        unanswered = _Answer(question, "needs_agent", f"{where}{what}", order, article=article)
        return _pending(session, ctx, unanswered)
    except NotFoundError as exc:
        return _pending(session, ctx, _Answer(question, "needs_agent", exc.message, order, article=article))
    if question.topic == "other" and article is not None and article.tags and "other" not in article.tags:
        # An open question answered by, say, the warranty article was a product question all along.
        question.topic = article.tags[0]
    reason = f"macro {rendered.key} v{rendered.version}" + (
        f" with facts of order {order.order_id}" if order else ""
    )
    if article is not None and key in ("product_question", "article_answer"):
        reason += f", article {article.external_id}"
    return _Answer(question, "answered", reason, order, rendered.text, rendered, article)


def _pending(session: Session, ctx: _Context, answer: _Answer) -> _Answer:
    """A question the draft cannot answer is still acknowledged, with the locked holding line
    ("we are checking ... and will come back to you") in the customer's language; it stays needs_agent."""
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
    return answer


def _resolve_order(session: Session, ctx: _Context, question: Question) -> Order | None:
    """Explicit id in the question, else the nearest one mentioned before it, else the linked/most recent order."""
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


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]{3,}", fold(text)))


def _pick_article(
    session: Session,
    ctx: _Context,
    question: Question,
    order: Order | None,
    engine: SearchEngine | None,
    settings: Settings,
) -> Article | None:
    """A help article for the question: by reason tag and channel, or by search for open questions."""
    items = " ".join(i.title for i in order.items) if order else ""
    if engine is not None and question.topic in ("product_question", "other"):
        from kb.suggest import suggest, tenant_cutoff

        threshold = tenant_cutoff(session, engine, tenant_id=ctx.tenant_id)
        tags = (question.topic,) if question.topic != "other" else None
        result = suggest(
            session,
            engine,
            tenant_id=ctx.tenant_id,
            query=f"{question.text} {items}".strip(),
            channel=ctx.channel,
            locale=ctx.locale,
            top_k=5,
            threshold=threshold,
            tags=tags,
        )
        by_id = {a.external_id: a for a in ctx.articles}
        for suggestion in result.suggestions:
            if tags is None or question.topic in suggestion.tags:
                return by_id.get(suggestion.id)
        if question.topic == "other":
            return None
    wanted = _words(f"{question.text} {items}")
    best: tuple[float, Article] | None = None
    for article in ctx.articles:
        if question.topic not in article.tags or (article.channels and ctx.channel not in article.channels):
            continue
        overlap = len(wanted & _words(f"{article.title} {article.tags}")) + 0.2 * len(
            wanted & _words(article.body)
        )
        score = (
            2.0 * (ctx.channel in article.channels)
            + 1.5 * (article.locale == ctx.locale)
            + 0.5 * (article.locale == "en")
            + 0.3 * overlap
        )
        if question.topic == "product_question" and overlap < 1:
            continue  # a care guide for the wrong product answers nothing
        if best is None or score > best[0]:
            best = (score, article)
    return best[1] if best else None


def excerpt(body: str) -> str:
    """The article's first paragraph of prose, cut at a sentence end."""
    for paragraph in re.split(r"\n\s*\n", body):
        text = re.sub(r"[#*_`>]+", "", paragraph).strip()
        if not text or text.startswith(("-", "|")) or len(text) < 40:
            continue
        text = re.sub(r"\s+", " ", text)
        if len(text) <= EXCERPT_CHARS:
            return text
        cut = text.rfind(". ", 0, EXCERPT_CHARS)
        return text[: cut + 1] if cut > 60 else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"
    return ""


def _facts_used(answers: list[_Answer], locale: str, reply: str) -> list[FactUsed]:
    seen: dict[tuple[str, str], Fact] = {}
    for answer in answers:
        if answer.order is None or not answer.text:
            continue
        for fact in order_facts(answer.order, locale):
            if fact.name.endswith("_state") or fact.name == "channel_name":
                continue
            if fact.value and fact.value in reply:
                seen.setdefault((fact.name, fact.value), fact)
    return [FactUsed(name=f.name, value=f.value, source=f.source) for f in seen.values()]


def _unique_articles(articles: Iterable[Article]) -> list[Article]:
    unique: dict[str, Article] = {}
    for article in articles:
        unique.setdefault(article.external_id, article)
    return list(unique.values())


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
