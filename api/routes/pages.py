"""The demo tenant's default pages: help centre, search results, articles, contact form, console, reports.

Pages embed the tenant's *public* key, which is visible in every page by design (it can only search,
read articles and post events). The key is the one `deflect demo` wrote to <data_dir>/demo_keys.json.
Agent pages embed no key: the agent pastes theirs, and it stays in that browser tab's sessionStorage.
Templates are files in api/templates; shopper pages speak the page's language (api/i18n.py); agent
pages are in English.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, get_args

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from api.deps import SearchDep, SessionDep, SettingsDep, TransactionRoute
from api.i18n import LANGUAGES, PageText, browser_messages, channel_label, pick_lang
from core.errors import NotFoundError
from core.schemas import CHANNELS, TAGS
from core.settings import Settings
from history.schemas import TicketStatus
from kb import service as kb_service
from kb.events import DEMO_SESSION_PREFIX
from kb.suggest import article_cutoff, suggest

router = APIRouter(include_in_schema=False, route_class=TransactionRoute)

SHOP = "Hearth & Harbor"
# html=False: article bodies are data, so raw HTML in markdown is shown as text, never run.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
)

# Help-centre topics (article reason tags) in page order.
TOPICS = (
    "tracking",
    "delivery_change",
    "return_label",
    "refund_status",
    "cancellation",
    "damaged_in_transit",
    "missing_item",
    "wrong_item",
    "product_question",
    "invoice",
    "other",
)
# The contact form's topics (its API's names) and the channels a customer can say they bought on.
CONTACT_TOPICS = ("tracking", "return", "refund", "damaged", "cancellation", "product_question", "other")
CONTACT_CHANNELS = ("web", "amazon", "ebay", "walmart")


def _topic_labels(text: PageText) -> dict[str, str]:
    _ = text.gettext
    # Spelled out so pybabel finds every name.
    return {
        "tracking": _("Orders & delivery"),
        "delivery_change": _("Changing a delivery"),
        "return_label": _("Returns"),
        "refund_status": _("Refunds"),
        "cancellation": _("Cancellations"),
        "damaged_in_transit": _("Damaged items"),
        "missing_item": _("Missing items"),
        "wrong_item": _("Wrong items"),
        "product_question": _("Products & care"),
        "invoice": _("Invoices"),
        "other": _("Shopping with us"),
    }


def _contact_topic_labels(text: PageText) -> list[tuple[str, str]]:
    _ = text.gettext
    labels = {
        "tracking": _("Where is my order?"),
        "return": _("Returning an item"),
        "refund": _("My refund"),
        "damaged": _("Damaged or missing item"),
        "cancellation": _("Cancelling an order"),
        "product_question": _("Question about a product"),
        "other": _("Something else"),
    }
    return [(topic, labels[topic]) for topic in CONTACT_TOPICS]


def _public_key(settings: Settings) -> str:
    keys_file = settings.data_dir / "demo_keys.json"
    key = json.loads(keys_file.read_text()).get("public") if keys_file.exists() else None
    if not key:
        raise NotFoundError("the demo help centre is not set up: run `deflect demo` first")
    return str(key)


def _shopper_page(
    template: str,
    text: PageText,
    *,
    title: str,
    active: str,
    public_key: str,
    scripts: tuple[str, ...] = (),
    body_class: str = "",
    **values: Any,
) -> HTMLResponse:
    _ = text.gettext
    lang = text.lang
    # Shoppers see the shopper pages only; agents reach theirs at /console and /reports.
    nav = [(f"/help?lang={lang}", _("Help centre")), (f"/contact?lang={lang}", _("Contact us"))]
    html = _templates.get_template(template).render(
        title=title,
        shop=SHOP,
        home=f"/help?lang={lang}",
        nav=nav,
        nav_label=_("Main"),
        active=next((href for href, _label in nav if href.split("?")[0] == active), active),
        footer=_("help centre powered by Deflect"),
        body_class=body_class,
        public_key=public_key,
        scripts=scripts,
        # The pages' scripts and the widget translate from the same catalog, embedded once.
        browser_messages=browser_messages(lang),
        **text.context(),
        **values,
    )
    # The language can come from Accept-Language: caches must keep one copy per language.
    return HTMLResponse(html, headers={"Vary": "Accept-Language"})


def _agent_page(page: str, title: str, note: str = "") -> HTMLResponse:
    nav = [("/console", "Agent console"), ("/reports", "Reports"), ("/help", "Help centre")]
    html = _templates.get_template("agent.html").render(
        title=title,
        heading=title,
        shop=SHOP,
        home="/console",
        nav=nav,
        nav_label="Agent",
        active=f"/{page}",
        footer="support workspace powered by Deflect",
        body_class="agent",
        public_key=None,
        scripts=("/static/agent.js", f"/static/{page}.js"),
        browser_messages=None,
        page=page,
        lang="en",
        vocab={"statuses": get_args(TicketStatus), "channels": CHANNELS, "tags": TAGS},
        note=note,
    )
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
@router.get("/help", response_class=HTMLResponse)
def help_centre(
    session: SessionDep,
    settings: SettingsDep,
    lang: str | None = None,
    locale: str | None = None,
    channel: str | None = None,
    accept_language: str | None = Header(None),
) -> HTMLResponse:
    key = _public_key(settings)
    text = PageText(pick_lang(lang or locale, accept_language))
    channel = channel if channel in CHANNELS else None
    articles, _ = kb_service.list_(
        session, tenant_id=settings.demo_tenant, locale=text.lang, channel=channel, limit=10_000
    )
    if not articles:
        articles, _ = kb_service.list_(
            session, tenant_id=settings.demo_tenant, locale="en", channel=channel, limit=10_000
        )
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for article in articles:
        by_topic[article.tags[0] if article.tags and article.tags[0] in TOPICS else "other"].append(article)
    labels = _topic_labels(text)
    return _shopper_page(
        "help.html",
        text,
        title=text.gettext("Help centre"),
        active="/help",
        public_key=key,
        body_class="help",
        channel=channel,
        languages=list(LANGUAGES.items()),
        groups=[(topic, labels[topic], by_topic[topic]) for topic in TOPICS if by_topic[topic]],
    )


# Snippets are cut from markdown: shown as text, the way the widget shows them (links keep their words).
_MARKDOWN_SYNTAX = (
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"(^|\s)(?:[-+*]|\d+[.)])\s+"), r"\1"),
    (re.compile(r"\|?\s*:?-{3,}:?\s*"), " "),
    (re.compile(r"\s*\|\s*"), " · "),
    (re.compile(r"[*_`#>]+"), ""),
    (re.compile(r"\s+"), " "),
    (re.compile(r"\s[-+*]\s*…$"), "…"),
    (re.compile(r"^(?:\s*·)+\s*|(?:\s*·)+\s*$"), ""),
)


def _marked_parts(snippet: str, query: str) -> list[tuple[str, bool]]:
    """The snippet as plain text cut into (text, highlighted) runs: whole words that a query word starts."""
    for pattern, replacement in _MARKDOWN_SYNTAX:
        snippet = pattern.sub(replacement, snippet)
    snippet = snippet.strip()
    words = [w for w in re.split(r"\W+", query.lower()) if len(w) > 2]
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in re.finditer(r"[^\W_]+", snippet):
        token = match.group().lower()
        if any(token == w or (len(w) > 3 and token.startswith(w)) for w in words):
            parts += [(snippet[position : match.start()], False), (match.group(), True)]
            position = match.end()
    return [part for part in parts + [(snippet[position:], False)] if part[0]]


@router.get("/help/search", response_class=HTMLResponse)
def search_page(
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
    q: str = Query("", max_length=500),
    lang: str | None = None,
    channel: str | None = None,
    accept_language: str | None = Header(None),
) -> HTMLResponse:
    """The widget's Enter without a chosen suggestion lands here: every article that passes the cut-off."""
    key = _public_key(settings)
    text = PageText(pick_lang(lang, accept_language))
    query = re.sub(r"\s+", " ", q).strip()
    results: list[dict[str, Any]] = []
    if query:
        threshold = article_cutoff(session, search, tenant_id=settings.demo_tenant)
        found = suggest(
            session,
            search,
            tenant_id=settings.demo_tenant,
            query=query,
            channel=channel if channel in CHANNELS else None,
            locale=text.lang,
            top_k=10,
            threshold=threshold,
        )
        results = [
            {"id": s.id, "title": s.title, "parts": _marked_parts(s.snippet, query)}
            for s in ([] if found.abstained else found.suggestions)
        ]
    return _shopper_page(
        "search.html",
        text,
        title=text.gettext("Search results"),
        active="/help",
        public_key=key,
        body_class="search",
        query=query,
        channel=channel if channel in CHANNELS else None,
        results=results,
    )


@router.get("/help/articles/{article_id}", response_class=HTMLResponse)
def article_page(article_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    key = _public_key(settings)
    article = kb_service.get(session, tenant_id=settings.demo_tenant, external_id=article_id)
    topic = article.tags[0] if article.tags and article.tags[0] in TOPICS else "other"
    text = PageText(pick_lang(article.locale, None))  # the page speaks the article's language
    return _shopper_page(
        "article.html",
        text,
        title=article.title,
        active="/help",
        public_key=key,
        scripts=("/static/deflect-page.js", "/static/article.js"),
        body_class="article-page",
        article=article,
        topic=topic,
        topic_label=_topic_labels(text)[topic],
        body=Markup(_markdown.render(article.body)),  # noqa: S704 - markdown-it with html=False escapes
        channels=", ".join(channel_label(c) for c in article.channels),
    )


@router.get("/contact", response_class=HTMLResponse)
def contact_page(
    settings: SettingsDep,
    lang: str | None = None,
    locale: str | None = None,
    accept_language: str | None = Header(None),
) -> HTMLResponse:
    """`lang` (or `locale`, as the help centre's links had it) picks the language; else Accept-Language."""
    key = _public_key(settings)
    text = PageText(pick_lang(lang or locale, accept_language))
    shop = text.gettext("Our online shop")
    channels = [(c, shop if c == "web" else channel_label(c)) for c in CONTACT_CHANNELS]
    return _shopper_page(
        "contact.html",
        text,
        title=text.gettext("Contact us"),
        active="/contact",
        public_key=key,
        scripts=("/static/deflect-page.js", "/static/contact.js"),
        body_class="contact",
        topics=_contact_topic_labels(text),
        channels=channels,
    )


@router.get("/i18n/{lang}.json")
def messages_json(lang: str) -> JSONResponse:
    """The catalog for the widget on a seller's site: public text, readable from any origin."""
    if lang not in LANGUAGES:
        raise NotFoundError(f"no messages for language {lang[:20]!r}; one of {', '.join(LANGUAGES)}")
    return JSONResponse(
        browser_messages(lang),
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"},
    )


@router.get("/console", response_class=HTMLResponse)
def console_page() -> HTMLResponse:
    return _agent_page("console", "Agent console")


@router.get("/reports", response_class=HTMLResponse)
def reports_page(settings: SettingsDep) -> HTMLResponse:
    demo = (settings.data_dir / "demo_keys.json").exists()
    note = (
        f"Demo shop: the deflection history of tenant {settings.demo_tenant} before today is generated demo "
        f"data (sessions named {DEMO_SESSION_PREFIX}…); your own searches and contacts add real events."
    )
    return _agent_page("reports", "Reports", note if demo else "")
