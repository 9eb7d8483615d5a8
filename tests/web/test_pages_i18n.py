"""The help-centre, article and contact pages speak the page's language from one string table (no browser)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.page_text import CHANNEL_LABELS, STRINGS, pick_lang
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.factories import article, load_articles


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
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_locale_has_every_string_and_the_same_placeholders() -> None:
    english = STRINGS["en"]
    for lang, strings in STRINGS.items():
        assert set(strings) == set(english), f"{lang}: {set(english) ^ set(strings)}"
        for key, value in strings.items():
            assert re.findall(r"{\w+}", value) == re.findall(r"{\w+}", english[key]), (lang, key)
            assert value.strip() == value and value, (lang, key)
        assert len(strings["months"].split(",")) == 12


def test_contact_form_in_french(pages: TestClient) -> None:
    response = pages.get("/contact?lang=fr")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="fr">' in page
    fr = STRINGS["fr"]
    visible = _text(page)
    for key in (
        "contact.topic",
        "contact.channel",
        "contact.message",
        "contact.order_id",
        "contact.postcode",
        "contact.submit",
        "contact.answers",
        "contact_topic.tracking",
        "contact.channel_web",
        "nav.help",
        "footer",
    ):
        assert fr[key] in visible, key
    assert 'placeholder="Dites-nous ce qui s&#39;est passé"' in page
    for english in ("Where did you buy?", "Your message", "I still need help", "Answers for you", "Topic"):
        assert english not in visible, english
    # The form's script reads its messages and order-status labels from the same table, embedded as JSON.
    embedded = re.search(r'<script type="application/json" id="deflect-strings">(.*?)</script>', page, re.S)
    assert embedded is not None
    strings = json.loads(embedded.group(1))
    assert strings["status.in_transit"] == "en transit" and strings["order.parcel"] == "Colis"
    # Links keep the language; the old ?locale= spelling still works.
    assert 'href="/help?lang=fr"' in page
    assert '<html lang="de">' in pages.get("/contact?locale=de").text


def test_language_from_the_browser_when_the_link_names_none(pages: TestClient) -> None:
    spanish = pages.get("/contact", headers={"Accept-Language": "pt-BR, es;q=0.8, en;q=0.5"})
    assert '<html lang="es">' in spanish.text and "¿Dónde compró?" in spanish.text
    assert spanish.headers["vary"] == "Accept-Language"
    assert '<html lang="it">' in pages.get("/contact?lang=it", headers={"Accept-Language": "de"}).text
    assert '<html lang="en">' in pages.get("/contact?lang=xx").text
    assert pick_lang(None, "de;q=0, fr;q=0.1") == "fr"


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
    assert "Pour les commandes sur Amazon" in french and "Mis à jour le " in french
    english = _text(pages.get("/help/articles/kb-returns-ebay").text)
    assert "For orders on eBay, Web" in english and re.search(r"Updated \d{1,2} [A-Z][a-z]+ \d{4}", english)


def test_brand_names_are_spelled_as_the_brands_do() -> None:
    assert CHANNEL_LABELS == {
        "amazon": "Amazon",
        "ebay": "eBay",
        "walmart": "Walmart",
        "shopify": "Shopify",
        "web": "Web",
        "email": "Email",
    }
