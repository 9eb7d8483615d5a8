"""Every page at phone (390 px) and desktop (1280 px) width in the system Chromium: no sideways scrolling, the
primary action within reach, and no serious or critical axe-core violation in any state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import (
    DESKTOP,
    PHONE,
    LiveServer,
    axe_problems,
    layout_problems,
    new_page,
    shot,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture(params=[PHONE, DESKTOP], ids=["390px", "1280px"])
def sized(request: pytest.FixtureRequest, browser: Any, live_server: LiveServer) -> Iterator[Any]:
    pg = new_page(browser, live_server.base_url, request.param)
    yield pg
    pg.context.close()


def _check(page: Any, primary: str, name: str) -> None:
    shot(page, f"{name}-{page.viewport_size['width']}")
    problems = layout_problems(page, primary) + axe_problems(page)
    assert problems == [], f"{name}: {problems}"


def test_help_centre_and_an_open_result(sized: Any) -> None:
    sized.goto("/help")
    _check(sized, ".dfw-input", "help")
    nav = sized.locator(".topbar nav").inner_text()
    assert "Agent console" not in nav and "Reports" not in nav
    box = sized.get_by_role("combobox")
    box.click()
    box.press_sequentially("where is my parcel", delay=20)
    sized.wait_for_selector(".dfw-option")
    _check(sized, ".dfw-option", "help-suggestions")
    box.press("ArrowDown")
    box.press("Enter")
    sized.locator(".dfw-panel").wait_for(state="visible")
    _check(sized, ".dfw-open", "help-open-result")
    assert sized.errors == []


def test_search_results_and_article_pages(sized: Any) -> None:
    sized.goto("/help/search?q=how+do+I+return+an+item&lang=en")
    _check(sized, ".result a", "search-results")
    sized.locator(".result a").first.click()
    sized.wait_for_selector("article h1")
    _check(sized, "#article-vote button", "article")
    sized.locator("#article-vote button[data-vote=not_helpful]").click()
    _check(sized, "#article-vote a", "article-voted")
    assert sized.errors == []


def test_contact_form_errors_and_answers(sized: Any) -> None:
    sized.goto("/contact")
    _check(sized, "#topic", "contact")
    sized.click("#submit-ticket")
    assert sized.evaluate("document.activeElement.id") == "topic"
    _check(sized, "#topic", "contact-errors")
    sized.select_option("#topic", "tracking")
    sized.fill("#message", "My parcel still has not arrived and the tracking has not moved for days.")
    sized.fill("#email", "priya.shah@example.co.uk")
    sized.fill("#order_id", "#1044")
    sized.locator(".order-card").wait_for()
    sized.wait_for_selector("#answers li")
    _check(sized, "#submit-ticket", "contact-answers")
    # On a phone the answers come before the button that sends the ticket.
    answers = sized.locator("#answers li").first.bounding_box()
    button = sized.locator("#submit-ticket").bounding_box()
    assert answers is not None and button is not None and answers["y"] < button["y"]
    assert sized.errors == []


def test_console_with_a_ticket_and_a_draft(sized: Any, live_server: LiveServer) -> None:
    sized.goto("/console")
    _check(sized, "#agent-key", "console-sign-in")
    sign_in(sized, live_server)
    sized.wait_for_selector("#tickets [role=option]")
    _check(sized, "#tickets [role=option]", "console-queue")
    sized.locator("#tickets [role=option]").first.click()
    sized.locator("#detail .timeline li").first.wait_for()
    sized.get_by_role("button", name="Draft reply").click()
    sized.wait_for_selector("#detail .draft-text", timeout=180_000)
    _check(sized, "#detail .draft-text", "console-draft")
    # The draft fills its column and is tall enough for the whole reply (nothing cut off).
    draft = sized.locator("#detail .draft-text")
    box, column = draft.bounding_box(), sized.locator("#detail").bounding_box()
    assert box is not None and column is not None and box["width"] > column["width"] - 80
    assert draft.evaluate("t => t.scrollHeight <= t.clientHeight + 2")
    assert sized.errors == []


def test_reports(sized: Any, live_server: LiveServer) -> None:
    sized.goto("/reports")
    sign_in(sized, live_server)
    sized.wait_for_selector(".kpis")
    sized.wait_for_selector("#root-causes table")
    sized.wait_for_selector("#macros table, #macros p.muted:not(.loading)")
    _check(sized, "#kpi-provisional", "reports")
    assert sized.errors == []
