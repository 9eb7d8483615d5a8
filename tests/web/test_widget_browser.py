"""The help-centre widget in the system Chromium against the real server and the real encoder."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import XSS_TITLE, LiveServer, shot

pytestmark = pytest.mark.browser

OPTIONS = ".dfw-option"


def _search(page: Any, text: str) -> None:
    box = page.get_by_role("combobox")
    box.click()
    box.press_sequentially(text, delay=25)


def test_typing_a_query_shows_the_right_article(page: Any, live_server: LiveServer) -> None:
    page.goto("/help")
    _search(page, "where is my parcel")
    # The first search of a fresh server also loads the language detector: allow for a busy machine.
    page.wait_for_selector(OPTIONS, timeout=180_000)
    titles = page.locator(f"{OPTIONS} .dfw-title").all_text_contents()
    assert "Where is my order? Tracking your parcel" in titles[:2]
    marks = page.locator(f"{OPTIONS} mark").all_text_contents()
    assert marks and {m.lower() for m in marks} <= {"where", "parcel", "parcels"}  # whole words only
    snippets = " ".join(page.locator(f"{OPTIONS} .dfw-snippet").all_text_contents())
    assert not re.search(r"\]\(|\*\*|(^|\s)#|\|", snippets), snippets  # no markdown syntax shown
    shot(page, "help-search")
    assert page.errors == []


def test_keyboard_navigation_follows_the_combobox_pattern(page: Any, live_server: LiveServer) -> None:
    page.goto("/help")
    _search(page, "how do I return an item bought on amazon")
    page.wait_for_selector(OPTIONS)
    box = page.get_by_role("combobox")
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    first = page.locator(OPTIONS).nth(0)
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    box.press("ArrowDown")
    second = page.locator(OPTIONS).nth(1)
    assert second.get_attribute("aria-selected") == "true" and first.get_attribute("aria-selected") == "false"
    box.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    chosen = first.locator(".dfw-title").text_content()
    box.press("Enter")
    panel = page.locator(".dfw-panel")
    panel.wait_for(state="visible")
    assert panel.locator("h3").text_content() == chosen
    assert box.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.getAttribute('role')") == "combobox"
    # Tab reaches the article link and the vote buttons; Enter on "Yes" records the vote.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "dfw-open"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert "Thanks" in panel.text_content()
    shot(page, "help-keyboard")
    box.press("Escape")
    assert box.input_value() == ""


def test_french_ui_with_data_locale_fr(page: Any, live_server: LiveServer) -> None:
    page.goto("/help?locale=fr")
    box = page.get_by_role("combobox")
    assert "colis" in box.get_attribute("placeholder")
    assert page.locator(".dfw").get_attribute("lang") == "fr"
    _search(page, "où est mon colis")
    page.wait_for_selector(OPTIONS)
    assert "articles suggérés" in page.locator(".dfw-status").text_content()
    titles = page.locator(f"{OPTIONS} .dfw-title").all_text_contents()
    assert titles[0] == "Où est ma commande ? Suivre votre colis"
    box.press("ArrowDown")
    box.press("Enter")
    assert "répondu à votre question" in page.locator(".dfw-panel").text_content()
    shot(page, "help-french")


def test_out_of_scope_query_shows_no_suggestion_but_a_way_to_contact(
    page: Any, live_server: LiveServer
) -> None:
    page.goto("/help")
    _search(page, "what is the capital of mongolia")
    page.locator(".dfw-status", has_text="No article").wait_for()  # no string eval under the page's CSP
    assert page.locator(OPTIONS).count() == 0
    assert page.locator(".dfw-list").is_hidden()
    assert page.get_by_role("combobox").get_attribute("aria-expanded") == "false"
    contact = page.locator(".dfw-status a")
    assert contact.text_content() == "Contact us"
    assert contact.get_attribute("href") == live_server.base_url + "/contact?lang=en"
    shot(page, "help-out-of-scope")


def test_malicious_title_is_text_and_runs_nothing(page: Any, live_server: LiveServer) -> None:
    page.goto("/help")
    assert page.get_by_text(XSS_TITLE).count() >= 1  # the article list shows it as text
    _search(page, "parcel insurance for fragile lamps")
    page.wait_for_selector(OPTIONS)
    titles = page.locator(f"{OPTIONS} .dfw-title").all_text_contents()
    assert XSS_TITLE in titles
    assert page.locator(".dfw img").count() == 0
    page.get_by_role("combobox").press("ArrowDown")
    page.get_by_role("combobox").press("Enter")
    page.goto("/help/articles/kb-xss-probe")
    assert page.locator("article h1").text_content() == XSS_TITLE
    assert page.locator("article img, article script").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.errors == []
    shot(page, "article-xss-probe")


def test_api_down_degrades_gracefully(page: Any, live_server: LiveServer) -> None:
    page.route("**/v1/suggest", lambda route: route.abort())
    page.goto("/help")
    _search(page, "where is my parcel")
    page.locator(".dfw-status", has_text="unavailable").wait_for()
    assert page.locator(OPTIONS).count() == 0
    assert page.errors == []


def test_enter_without_a_choice_opens_the_results_page_in_the_pages_language(
    page: Any, live_server: LiveServer
) -> None:
    page.goto("/help?lang=de")
    _search(page, "Rücksendung")
    page.get_by_role("combobox").press("Enter")
    page.wait_for_url("**/help/search?q=R%C3%BCcksendung&lang=de")
    assert page.locator("h1").text_content() == "Suchergebnisse"
    assert page.get_by_role("searchbox").input_value() == "Rücksendung"
    assert page.locator(".result, [role=status]").count() >= 1
    assert page.errors == []


def test_widget_script_stays_small() -> None:
    import gzip

    from tests.web.conftest import ROOT

    # What shoppers download is the compressed file; the catalog travels separately, per language.
    size = len(gzip.compress((ROOT / "api" / "static" / "widget.js").read_bytes()))
    assert size < 10_000, f"widget.js is {size} bytes gzipped"
