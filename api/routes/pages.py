"""The demo tenant's default pages: help centre, article pages, contact form, agent console, reports.

Pages embed the tenant's *public* key, which is visible in every page by design (it can only search,
read articles and post events). The key is the one `deflect demo` wrote to <data_dir>/demo_keys.json.
Agent pages embed no key: the agent pastes theirs, and it stays in that browser tab's sessionStorage.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from markdown_it import MarkdownIt

from api.deps import SessionDep, SettingsDep, TransactionRoute
from core.errors import NotFoundError
from core.schemas import CHANNELS
from core.settings import Settings
from kb import service as kb_service

router = APIRouter(include_in_schema=False, route_class=TransactionRoute)

# html=False: article bodies are data, so raw HTML in markdown is shown as text, never run.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

TOPIC_LABELS = {
    "tracking": "Orders & delivery", "delivery_change": "Changing a delivery", "return_label": "Returns",
    "refund_status": "Refunds", "cancellation": "Cancellations", "damaged_in_transit": "Damaged items",
    "missing_item": "Missing items", "wrong_item": "Wrong items", "product_question": "Products & care",
    "invoice": "Invoices", "other": "Shopping with us",
}
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "it": "Italiano"}

_LAYOUT = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ title }} · {{ shop }}</title>
<link rel="stylesheet" href="/static/site.css">
{% if public_key %}<meta name="deflect-key" content="{{ public_key }}">{% endif %}
</head><body class="{{ body_class }}">
<header class="topbar"><div class="wrap">
<a class="brand" href="/help"><span class="logo" aria-hidden="true">H</span>{{ shop }}</a>
<nav aria-label="Main">{% for href, text in nav %}<a href="{{ href }}"{% if href == active %} aria-current="page"{% endif %}>{{ text }}</a>{% endfor %}</nav>
</div></header>
<main id="main">{{ content }}</main>
<footer class="footer"><div class="wrap">{{ shop }} · help centre powered by Deflect</div></footer>
{% for src in scripts %}<script src="{{ src }}" defer></script>{% endfor %}
</body></html>"""

_HELP = """<section class="hero"><div class="wrap">
<h1>{{ heading }}</h1><p class="lead">{{ lead }}</p>
<div id="search"></div>
<script src="/static/widget.js" data-key="{{ public_key }}" data-locale="{{ lang }}"{% if channel %} data-channel="{{ channel }}"{% endif %}
 data-target="#search" data-article-url="/help/articles/{id}"></script>
<p class="langs">{% for code, name in languages %}<a href="/help?locale={{ code }}{% if channel %}&amp;channel={{ channel }}{% endif %}"{% if code == lang %} aria-current="true"{% endif %}>{{ name }}</a>{% endfor %}</p>
</div></section>
<div class="wrap topics">
{% for topic, label, articles in groups %}<section class="card topic" id="topic-{{ topic }}"><h2>{{ label }}</h2><ul>
{% for a in articles %}<li><a href="/help/articles/{{ a.external_id }}">{{ a.title }}</a>{% if a.channels %} <span class="chips">{% for c in a.channels %}<span class="chip">{{ c }}</span>{% endfor %}</span>{% endif %}</li>{% endfor %}
</ul></section>{% endfor %}
</div>
<section class="wrap cta card"><h2>Still need help?</h2><p>Tell us what happened and we will show you the fastest answer, or pass you to our team.</p>
<a class="button" href="/contact">Contact us</a></section>"""

_ARTICLE = """<div class="wrap narrow">
<div id="search" class="compact"></div>
<script src="/static/widget.js" data-key="{{ public_key }}" data-locale="{{ lang }}" data-target="#search"
 data-article-url="/help/articles/{id}"></script>
<nav class="crumbs" aria-label="Breadcrumb"><a href="/help">Help centre</a> › <a href="/help#topic-{{ topic }}">{{ topic_label }}</a></nav>
<article class="card article" data-article-id="{{ article.external_id }}">
<h1>{{ article.title }}</h1>
<p class="meta">{% if article.channels %}For orders on {{ article.channels | join(", ") }} · {% endif %}Updated {{ article.updated_at.strftime("%d %b %Y") }}</p>
{{ body }}
</article>
<div class="card vote" id="article-vote" data-article-id="{{ article.external_id }}"><span>Was this article helpful?</span>
<button type="button" data-vote="helpful">Yes</button><button type="button" data-vote="not_helpful">No</button></div>
<p class="muted">Didn't find your answer? <a href="/contact">Contact us</a>.</p>
</div>"""

_CONTACT = """<div class="wrap contact-grid">
<form class="card" id="contact-form" novalidate>
<h1>Contact us</h1>
<p class="lead">Choose a topic and tell us what happened. We'll show you answers as you type.</p>
<label for="topic">Topic</label>
<select id="topic" name="topic" required><option value="">Choose a topic…</option>
{% for value, text in topics %}<option value="{{ value }}">{{ text }}</option>{% endfor %}</select>
<label for="channel">Where did you buy?</label>
<select id="channel" name="channel">{% for value, text in channels %}<option value="{{ value }}">{{ text }}</option>{% endfor %}</select>
<label for="message">Your message</label>
<textarea id="message" name="message" rows="6" maxlength="5000" placeholder="Tell us what happened"></textarea>
<fieldset><legend>Your order <span class="muted">(optional: shows its live status)</span></legend>
<div class="row"><div><label for="order_id">Order number</label><input id="order_id" name="order_id" autocomplete="off"></div>
<div><label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="email"></div>
<div class="small"><label for="postcode">or postcode</label><input id="postcode" name="postcode" autocomplete="postal-code"></div></div>
</fieldset>
<div class="actions"><button type="submit" class="button" id="submit-ticket">I still need help</button></div>
<div id="form-status" role="status" aria-live="polite"></div>
</form>
<aside class="card answers" aria-labelledby="answers-heading">
<h2 id="answers-heading">Answers for you</h2>
<div id="order-status" hidden></div>
<p id="answers-empty" class="muted">Pick a topic to see the articles that answer most questions like yours.</p>
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


def _nav() -> list[tuple[str, str]]:
    return [("/help", "Help centre"), ("/contact", "Contact us"), ("/console", "Agent console"),
            ("/reports", "Reports")]


def _page(settings: Settings, *, title: str, content: str, active: str, lang: str = "en",
          scripts: tuple[str, ...] = (), body_class: str = "", public_key: str | None = None) -> HTMLResponse:
    html = _env.from_string(_LAYOUT).render(
        title=title, shop="Hearth & Harbor", content=_markup(content), nav=_nav(), active=active, lang=lang,
        scripts=scripts, body_class=body_class, public_key=public_key,
    )
    return HTMLResponse(html)


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
def help_centre(session: SessionDep, settings: SettingsDep, locale: str = "en",
                channel: str | None = None) -> HTMLResponse:
    key = _require_key(settings)
    lang = locale if locale in LANGUAGES else "en"
    channel = channel if channel in CHANNELS else None
    articles, _ = kb_service.list_(session, tenant_id=settings.demo_tenant, locale=lang, channel=channel,
                                   limit=10_000)
    if not articles:
        articles, _ = kb_service.list_(session, tenant_id=settings.demo_tenant, locale="en", channel=channel,
                                       limit=10_000)
    by_topic: dict[str, list[Any]] = defaultdict(list)
    for article in articles:
        by_topic[article.tags[0] if article.tags else "other"].append(article)
    groups = [(topic, TOPIC_LABELS.get(topic, topic), by_topic[topic]) for topic in TOPIC_LABELS if by_topic[topic]]
    content = _env.from_string(_HELP).render(
        heading="How can we help?", lead="Search our answers about orders, returns, refunds and products.",
        public_key=key, lang=lang, channel=channel, languages=list(LANGUAGES.items()), groups=groups,
    )
    return _page(settings, title="Help centre", content=content, active="/help", lang=lang, public_key=key,
                 body_class="help")


@router.get("/help/articles/{article_id}", response_class=HTMLResponse)
def article_page(article_id: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    key = _require_key(settings)
    article = kb_service.get(session, tenant_id=settings.demo_tenant, external_id=article_id)
    topic = article.tags[0] if article.tags else "other"
    content = _env.from_string(_ARTICLE).render(
        public_key=key, lang=article.locale if article.locale in LANGUAGES else "en", article=article,
        topic=topic, topic_label=TOPIC_LABELS.get(topic, topic), body=_markup(_markdown.render(article.body)),
    )
    return _page(settings, title=article.title, content=content, active="/help", lang=article.locale,
                 scripts=("/static/deflect-page.js", "/static/article.js"), public_key=key,
                 body_class="article-page")


CONTACT_TOPICS = [("tracking", "Where is my order?"), ("return", "Returning an item"), ("refund", "My refund"),
                  ("damaged", "Damaged or missing item"), ("cancellation", "Cancelling an order"),
                  ("product_question", "Question about a product"), ("other", "Something else")]
CONTACT_CHANNELS = [("web", "Our online shop"), ("amazon", "Amazon"), ("ebay", "eBay"), ("walmart", "Walmart")]


@router.get("/contact", response_class=HTMLResponse)
def contact_page(settings: SettingsDep) -> HTMLResponse:
    key = _require_key(settings)
    content = _env.from_string(_CONTACT).render(topics=CONTACT_TOPICS, channels=CONTACT_CHANNELS)
    return _page(settings, title="Contact us", content=content, active="/contact", public_key=key,
                 scripts=("/static/deflect-page.js", "/static/contact.js"), body_class="contact")


@router.get("/console", response_class=HTMLResponse)
def console_page(settings: SettingsDep) -> HTMLResponse:
    content = _env.from_string(_AGENT).render(page="console")
    return _page(settings, title="Agent console", content=content, active="/console",
                 scripts=("/static/agent.js", "/static/console.js"), body_class="agent")


@router.get("/reports", response_class=HTMLResponse)
def reports_page(settings: SettingsDep) -> HTMLResponse:
    content = _env.from_string(_AGENT).render(page="reports")
    return _page(settings, title="Reports", content=content, active="/reports",
                 scripts=("/static/agent.js", "/static/reports.js"), body_class="agent")
