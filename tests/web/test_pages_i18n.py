"""The help-centre, search, article and contact pages speak the page's language from one Babel catalog
per language, which the pages' scripts and the widget share (no browser)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

from api.i18n import CHANNEL_LABELS, CONTEXT_SEP, LANGUAGES, PageText, browser_messages, catalog, pick_lang
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.factories import article, load_articles

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


@pytest.fixture
def pages(
    settings: Settings, runtime: Runtime, tenant: TenantKeys, client: TestClient
) -> Iterator[TestClient]:
    """The pages serve settings.demo_tenant with the public key `deflect demo` leaves in the data dir."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "demo_keys.json").write_text(json.dumps({"public": tenant.public}))
    load_articles(
        runtime,
        settings.demo_tenant,
        [
            article(
                id="kb-returns-ebay",
                title="Returning an eBay order",
                channels=["ebay", "web"],
                tags=["return_label"],
            ),
            article(
                id="kb-suivi", title="Où est mon colis ?", locale="fr", tags=["tracking"], channels=["amazon"]
            ),
        ],
    )
    yield client


def _text(page: str) -> str:
    """What a reader sees: no tags, no scripts (the embedded catalog is keyed by the English messages)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", page, flags=re.S)))


def _used_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every message the templates, page routes and scripts use, as pybabel sees them."""
    method_map = [
        ("api/routes/pages.py", "python"),
        ("api/templates/**.html", "jinja2"),
        ("api/static/**.js", "javascript"),
    ]
    used: set[tuple[str | None, str]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), method_map):
        used.add((context, message[0] if isinstance(message, tuple) else message))
    return used


def test_every_message_in_use_is_translated_in_every_language() -> None:
    used = _used_messages()
    assert len(used) > 80  # the extraction saw the templates, the routes and the scripts
    for lang in TRANSLATED:
        source = catalog(lang)
        assert source is not None, lang
        entries = {
            (m.context, m.id[0] if isinstance(m.id, tuple | list) else m.id): m for m in source if m.id
        }
        assert used - set(entries) == set(), f"{lang}: run pybabel extract/update (api/i18n.py)"
        assert set(entries) - used == set(), f"{lang}: messages no page uses any more"
        assert source.num_plurals == 2, lang  # the browser maps Intl.PluralRules' "one" to form 0
        for key, entry in entries.items():
            forms = entry.string if isinstance(entry.string, tuple | list) else [entry.string]
            msgids = entry.id if isinstance(entry.id, tuple | list) else [entry.id]
            assert all(forms) and not entry.fuzzy, (lang, key)
            for form in forms:
                assert set(re.findall(r"{\w+}", form)) == set(re.findall(r"{\w+}", msgids[-1])), (lang, key)


def test_browser_messages_carry_contexts_and_plurals() -> None:
    french = browser_messages("fr")
    assert french["Search our help centre"] == "Rechercher dans notre centre d'aide"
    assert french[f"status{CONTEXT_SEP}in transit"] == "en transit"
    assert french["{n} suggested article"] == ["{n} article suggéré", "{n} articles suggérés"]
    assert browser_messages("en") == {}
    text = PageText("fr")
    assert text.ngettext("{n} suggested article", "{n} suggested articles", 1) == "1 article suggéré"
    assert text.ngettext("{n} suggested article", "{n} suggested articles", 3) == "3 articles suggérés"
    assert text.pgettext("button", "Contact us") == "Nous contacter"
    assert PageText("de").long_date(date(2025, 10, 6)) == "6. Oktober 2025"
    assert PageText("en").long_date(date(2025, 10, 6)) == "October 6, 2025"


def test_contact_form_in_french(pages: TestClient) -> None:
    response = pages.get("/contact?lang=fr")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="fr">' in page
    visible = _text(page)
    for french in (
        "Sujet",
        "Où avez-vous acheté ?",
        "Votre message",
        "Numéro de commande",
        "ou code postal",
        "J'ai encore besoin d'aide",
        "Réponses pour vous",
        "Où est ma commande ?",
        "Notre boutique en ligne",
        "Centre d'aide",
        "centre d'aide propulsé par Deflect",
    ):
        assert french in visible, french
    assert 'placeholder="Dites-nous ce qui s&#39;est passé"' in page
    for english in ("Where did you buy?", "Your message", "I still need help", "Answers for you", "Topic"):
        assert english not in visible, english
    # The form's script reads its messages and order-status names from the same catalog, embedded as JSON.
    embedded = re.search(r'<script type="application/json" id="deflect-i18n"[^>]*>(.*?)</script>', page, re.S)
    assert embedded is not None
    strings = json.loads(embedded.group(1))
    assert strings[f"status{CONTEXT_SEP}in transit"] == "en transit" and strings["Parcel"] == "Colis"
    # Links keep the language; the old ?locale= spelling still works.
    assert 'href="/help?lang=fr"' in page
    assert '<html lang="de">' in pages.get("/contact?locale=de").text


def test_shoppers_see_no_agent_pages_in_the_navigation(pages: TestClient) -> None:
    for path in ("/help", "/contact", "/help/articles/kb-returns-ebay", "/help/search?q=return"):
        page = pages.get(path).text
        nav = re.search(r"<nav aria-label=\"Main\">(.*?)</nav>", page, re.S)
        assert nav is not None, path
        assert "/console" not in nav.group(1) and "/reports" not in nav.group(1), path
    console = pages.get("/console").text
    assert 'href="/reports"' in console and 'href="/console"' in console


def test_language_from_the_browser_when_the_link_names_none(pages: TestClient) -> None:
    spanish = pages.get("/contact", headers={"Accept-Language": "pt-BR, es;q=0.8, en;q=0.5"})
    assert '<html lang="es">' in spanish.text and "¿Dónde compró?" in spanish.text
    assert spanish.headers["vary"] == "Accept-Language"
    assert '<html lang="it">' in pages.get("/contact?lang=it", headers={"Accept-Language": "de"}).text
    assert '<html lang="en">' in pages.get("/contact?lang=xx").text
    assert pick_lang(None, "de;q=0, fr;q=0.1") == "fr"
    assert pick_lang(None, "de-AT,en;q=0.3") == "de"
    assert pick_lang("EN_gb", "fr") == "en"
    assert pick_lang(None, "*, xx") == "en"


def test_help_centre_topics_channels_and_language_links(pages: TestClient) -> None:
    english = _text(pages.get("/help").text)
    assert "Returns" in english and "eBay" in english and "Web" in english and "Ebay" not in english
    german = pages.get("/help?lang=de").text
    assert "Wie können wir helfen?" in german and "Brauchen Sie weitere Hilfe?" in german
    assert "Rücksendungen" in german  # the English article's topic falls back, its name does not
    assert 'href="/help?lang=fr"' in german and 'href="/contact?lang=de"' in german
    french = _text(pages.get("/help?locale=fr").text)
    assert "Commandes et livraison" in french and "Où est mon colis ?" in french


def test_article_page_speaks_the_articles_language(pages: TestClient) -> None:
    french = pages.get("/help/articles/kb-suivi").text
    assert '<html lang="fr">' in french and "Cet article vous a-t-il été utile ?" in french
    assert "Pour les commandes sur Amazon" in french
    assert re.search(r"Mis à jour le \d{1,2} [a-zéû]+ \d{4}", _text(french))
    english = _text(pages.get("/help/articles/kb-returns-ebay").text)
    assert "For orders on eBay, Web" in english and re.search(r"Updated [A-Z][a-z]+ \d{1,2}, \d{4}", english)


def test_widget_catalog_is_served_to_any_origin(pages: TestClient) -> None:
    response = pages.get("/i18n/de.json", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["Search our help centre"] == "Hilfe-Center durchsuchen"
    assert pages.get("/i18n/xx.json").status_code == 404


def test_search_results_page_lists_matches_and_escapes_the_query(pages: TestClient) -> None:
    found = pages.get("/help/search?q=track+my+parcel+on+ebay&lang=en")
    assert found.status_code == 200
    assert 'data-article-id="kb-returns-ebay"' in found.text
    assert "<mark>parcel</mark>" in found.text
    probe = pages.get("/help/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in probe.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in probe.text
    nothing = _text(pages.get("/help/search", params={"q": "zzxq wvvk", "lang": "de"}).text)
    assert "Kein Artikel passt zu „zzxq wvvk“." in nothing


def test_brand_names_are_spelled_as_the_brands_do() -> None:
    assert CHANNEL_LABELS == {
        "amazon": "Amazon",
        "ebay": "eBay",
        "walmart": "Walmart",
        "shopify": "Shopify",
        "web": "Web",
        "email": "Email",
    }


def test_result_snippets_are_text_with_whole_words_marked() -> None:
    from api.routes.pages import _marked_parts

    parts = _marked_parts(
        "- the **parcel** left; - see [tracking](https://x.example) | a |\n|---|", "my parcel track"
    )
    assert "".join(text for text, _ in parts) == "the parcel left; see tracking · a"
    assert [text for text, marked in parts if marked] == ["parcel", "tracking"]
    assert [t for t, m in _marked_parts("carrier arrived", "arr") if m] == []  # never inside a word
