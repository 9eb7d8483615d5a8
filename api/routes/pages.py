"""The demo tenant's default pages: help centre, article pages, contact form, agent console, reports.

Pages embed the tenant's *public* key, which is visible in every page by design (it can only search,
read articles and post events). The key is the one `deflect demo` wrote to <data_dir>/demo_keys.json.
Agent pages embed no key: the agent pastes theirs, and it stays in that browser tab's sessionStorage.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from markdown_it import MarkdownIt

from api.deps import SessionDep, SettingsDep, TransactionRoute
from api.page_text import CHANNEL_LABELS, LANGUAGES, STRINGS, long_date, pick_lang, text
from core.errors import NotFoundError
from core.schemas import CHANNELS
from core.settings import Settings
from kb import service as kb_service

router = APIRouter(include_in_schema=False, route_class=TransactionRoute)

# html=False: article bodies are data, so raw HTML in markdown is shown as text, never run.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

# Help-centre topics in page order; their names are "topic.<tag>" in api/page_text.py.
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

_LAYOUT = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }} · {{ shop }}</title>
<link rel="stylesheet" href="/static/site.css">
{% if public_key %}<meta name="deflect-key" content="{{ public_key }}">{% endif %}
</head><body class="{{ body_class }}">
<header class="topbar"><div class="wrap">
<a class="brand" href="/help?lang={{ lang }}"><span class="logo" aria-hidden="true">H</span>{{ shop }}</a>
<nav aria-label="{{ t('nav.main') }}">{% for href, text in nav %}<a href="{{ href }}"{% if href == active %} aria-current="page"{% endif %}>{{ text }}</a>{% endfor %}</nav>
</div></header>
<main id="main">{{ content }}</main>
<footer class="footer"><div class="wrap">{{ shop }} · {{ t("footer") }}</div></footer>
{% if strings %}<script type="application/json" id="deflect-strings">{{ strings | tojson }}</script>{% endif %}
{% for src in scripts %}<script src="{{ src }}" defer></script>{% endfor %}
</body></html>"""

_HELP = """<section class="hero"><div class="wrap">
<h1>{{ t("help.heading") }}</h1><p class="lead">{{ t("help.lead") }}</p>
<div id="search"></div>
<script src="/static/widget.js" data-key="{{ public_key }}" data-locale="{{ lang }}"{% if channel %} data-channel="{{ channel }}"{% endif %}
 data-target="#search" data-article-url="/help/articles/{id}"></script>
<p class="langs" aria-label="{{ t('help.languages') }}">{% for code, name in languages %}<a href="/help?lang={{ code }}{% if channel %}&amp;channel={{ channel }}{% endif %}"{% if code == lang %} aria-current="true"{% endif %} lang="{{ code }}">{{ name }}</a>{% endfor %}</p>
</div></section>
<div class="wrap topics">
{% for topic, label, articles in groups %}<section class="card topic" id="topic-{{ topic }}"><h2>{{ label }}</h2><ul>
{% for a in articles %}<li><a href="/help/articles/{{ a.external_id }}">{{ a.title }}</a>{% if a.channels %} <span class="chips">{% for c in a.channels %}<span class="chip" data-channel="{{ c }}">{{ channel_label(c) }}</span>{% endfor %}</span>{% endif %}</li>{% endfor %}
</ul></section>{% endfor %}
</div>
<section class="wrap cta card"><h2>{{ t("help.cta_heading") }}</h2><p>{{ t("help.cta_text") }}</p>
<a class="button" href="/contact?lang={{ lang }}">{{ t("help.cta_button") }}</a></section>"""

_ARTICLE = """<div class="wrap narrow">
<div id="search" class="compact"></div>
<script src="/static/widget.js" data-key="{{ public_key }}" data-locale="{{ lang }}" data-target="#search"
 data-article-url="/help/articles/{id}"></script>
<nav class="crumbs" aria-label="{{ t('article.breadcrumb') }}"><a href="/help?lang={{ lang }}">{{ t("nav.help") }}</a> › <a href="/help?lang={{ lang }}#topic-{{ topic }}">{{ t("topic." + topic) }}</a></nav>
<article class="card article" data-article-id="{{ article.external_id }}">
<h1>{{ article.title }}</h1>
<p class="meta">{% if article.channels %}{{ t("article.for_orders_on", channels=channels) }} · {% endif %}{{ t("article.updated", date=updated) }}</p>
{{ body }}
</article>
<div class="card vote" id="article-vote" data-article-id="{{ article.external_id }}"><span>{{ t("article.helpful") }}</span>
<button type="button" data-vote="helpful">{{ t("article.yes") }}</button><button type="button" data-vote="not_helpful">{{ t("article.no") }}</button></div>
<p class="muted">{{ t("article.not_found") }} <a href="/contact?lang={{ lang }}">{{ t("nav.contact") }}</a></p>
</div>"""

_CONTACT = """<div class="wrap contact-grid">
<form class="card" id="contact-form" novalidate>
<h1>{{ t("contact.heading") }}</h1>
<p class="lead">{{ t("contact.lead") }}</p>
<label for="topic">{{ t("contact.topic") }}</label>
<select id="topic" name="topic" required><option value="">{{ t("contact.choose_topic") }}</option>
{% for value in topics %}<option value="{{ value }}">{{ t("contact_topic." + value) }}</option>{% endfor %}</select>
<label for="channel">{{ t("contact.channel") }}</label>
<select id="channel" name="channel">{% for value in channels %}<option value="{{ value }}">{{ t("contact.channel_web") if value == "web" else channel_label(value) }}</option>{% endfor %}</select>
<label for="message">{{ t("contact.message") }}</label>
<textarea id="message" name="message" rows="6" maxlength="5000" placeholder="{{ t('contact.message_placeholder') }}"></textarea>
<fieldset><legend>{{ t("contact.order") }} <span class="muted">{{ t("contact.order_hint") }}</span></legend>
<div class="row"><div><label for="order_id">{{ t("contact.order_id") }}</label><input id="order_id" name="order_id" autocomplete="off"></div>
<div><label for="email">{{ t("contact.email") }}</label><input id="email" name="email" type="email" autocomplete="email"></div>
<div class="small"><label for="postcode">{{ t("contact.postcode") }}</label><input id="postcode" name="postcode" autocomplete="postal-code"></div></div>
</fieldset>
<div class="actions"><button type="submit" class="button" id="submit-ticket">{{ t("contact.submit") }}</button></div>
<div id="form-status" role="status" aria-live="polite"></div>
</form>
<aside class="card answers" aria-labelledby="answers-heading">
<h2 id="answers-heading">{{ t("contact.answers") }}</h2>
<div id="order-status" hidden></div>
<p id="answers-empty" class="muted">{{ t("contact.answers_empty") }}</p>
<ul id="answers" class="answer-list"></ul>
</aside>
</div>"""

_AGENT = """<div class="wrap {{ page }}">
<form class="card keybox" id="keybox" hidden><label for="agent-key">Agent API key</label>
<div class="row"><input id="agent-key" type="password" autocomplete="off" placeholder="dfk_age_…"><button class="button" type="submit">Sign in</button></div>
<p class="muted">The key stays in this browser tab only. <code>deflect demo</code> prints the demo's agent key.</p></form>
<div id="app" hidden></div>
</div>"""


def _public_key(settings: Settings) -> str | None:
    keys_file = settings.data_dir / "demo_keys.json"
    if not keys_file.exists():
        return None
    stored: dict[str, str] = json.loads(keys_file.read_text())
    return stored.get("public")


def _nav(lang: str) -> list[tuple[str, str]]:
    return [
        (f"/help?lang={lang}", text(lang, "nav.help")),
        (f"/contact?lang={lang}", text(lang, "nav.contact")),
        ("/console", text(lang, "nav.console")),
        ("/reports", text(lang, "nav.reports")),
    ]


def _translator(lang: str) -> dict[str, Callable[..., str]]:
    """What every template gets: `t(key, **params)` in the page language and the channels' brand names."""
    return {
        "t": lambda key, **params: text(lang, key, **params),
        "channel_label": lambda channel: CHANNEL_LABELS.get(channel) or str(channel),
    }


def _page(
    settings: Settings,
    *,
    title: str,
    content: str,
    active: str,
    lang: str = "en",
    scripts: tuple[str, ...] = (),
    body_class: str = "",
    public_key: str | None = None,
) -> HTMLResponse:
    nav = _nav(lang)
    html = _env.from_string(_LAYOUT).render(
        title=title,
        shop="Hearth & Harbor",
        content=_markup(content),
        nav=nav,
        active=next((href for href, _ in nav if href.split("?")[0] == active), active),
        lang=lang,
        scripts=scripts,
        body_class=body_class,
        public_key=public_key,
        # The pages' scripts show messages and order statuses in the page language from the same table.
        strings=STRINGS[lang] if "/static/deflect-page.js" in scripts else None,
        **_translator(lang),
    )
    # The language can come from Accept-Language: caches must keep one copy per language.
    return HTMLResponse(html, headers={"Vary": "Accept-Language"})


def _markup(html: str) -> Any:
    from markupsafe import Markup

    return Markup(html)  # noqa: S704 - only our own rendered templates reach here


def _require_key(settings: Settings) -> str:
    key = _public_key(settings)
    if key is None:
        raise NotFoundError("the demo help centre is not set up: run `deflect demo` first")
    return key


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
    key = _require_key(settings)
    lang = pick_lang(lang or locale, accept_language)
    channel = channel if channel in CHANNELS else None
    articles, _ = kb_service.list_(
        session, tenant_id=settings.demo_tenant, locale=lang, channel=channel, limit=10_000
    )
    if not articles:
        articles, _ = kb_service.list_(
            session, tenant_id=settings.demo_tenant, locale="en", channel=channel, limit=10_000
        )
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for article in articles:
        by_topic[article.tags[0] if article.tags else "other"].append(article)
    groups = [(topic, text(lang, f"topic.{topic}"), by_topic[topic]) for topic in TOPICS if by_topic[topic]]
    content = _env.from_string(_HELP).render(
        public_key=key,
        lang=lang,
        channel=channel,
        languages=list(LANGUAGES.items()),
        groups=groups,
        **_translator(lang),
    )
    return _page(
        settings,
        title=text(lang, "nav.help"),
        content=content,
        active="/help",
        lang=lang,
        public_key=key,
        body_class="help",
    )


@router.get("/help/articles/{article_id}", response_class=HTMLResponse)
def article_page(article_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    key = _require_key(settings)
    article = kb_service.get(session, tenant_id=settings.demo_tenant, external_id=article_id)
    topic = article.tags[0] if article.tags and article.tags[0] in TOPICS else "other"
    lang = pick_lang(article.locale, None)  # the page speaks the article's language
    content = _env.from_string(_ARTICLE).render(
        public_key=key,
        lang=lang,
        article=article,
        topic=topic,
        body=_markup(_markdown.render(article.body)),
        channels=", ".join(CHANNEL_LABELS.get(c, c) for c in article.channels),
        updated=long_date(lang, article.updated_at),
        **_translator(lang),
    )
    return _page(
        settings,
        title=article.title,
        content=content,
        active="/help",
        lang=lang,
        scripts=("/static/deflect-page.js", "/static/article.js"),
        public_key=key,
        body_class="article-page",
    )


# The contact form's topics (its API's names; "contact_topic.<name>" in api/page_text.py) and channels.
CONTACT_TOPICS = ("tracking", "return", "refund", "damaged", "cancellation", "product_question", "other")
CONTACT_CHANNELS = ("web", "amazon", "ebay", "walmart")


@router.get("/contact", response_class=HTMLResponse)
def contact_page(
    settings: SettingsDep,
    lang: str | None = None,
    locale: str | None = None,
    accept_language: str | None = Header(None),
) -> HTMLResponse:
    """`lang` (or `locale`, as the help centre's links had it) picks the language; else Accept-Language."""
    key = _require_key(settings)
    lang = pick_lang(lang or locale, accept_language)
    content = _env.from_string(_CONTACT).render(
        topics=CONTACT_TOPICS, channels=CONTACT_CHANNELS, **_translator(lang)
    )
    return _page(
        settings,
        title=text(lang, "contact.heading"),
        content=content,
        active="/contact",
        lang=lang,
        public_key=key,
        scripts=("/static/deflect-page.js", "/static/contact.js"),
        body_class="contact",
    )


@router.get("/console", response_class=HTMLResponse)
def console_page(settings: SettingsDep) -> HTMLResponse:
    content = _env.from_string(_AGENT).render(page="console")
    return _page(
        settings,
        title="Agent console",
        content=content,
        active="/console",
        scripts=("/static/agent.js", "/static/console.js"),
        body_class="agent",
    )


@router.get("/reports", response_class=HTMLResponse)
def reports_page(settings: SettingsDep) -> HTMLResponse:
    content = _env.from_string(_AGENT).render(page="reports")
    return _page(
        settings,
        title="Reports",
        content=content,
        active="/reports",
        scripts=("/static/agent.js", "/static/reports.js"),
        body_class="agent",
    )
