"""The agent console in the system Chromium: keyboard queue, paging, filters, any ticket by id, merge/undo."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.web.conftest import LiveServer, api_get, shot, sign_in

pytestmark = pytest.mark.browser

OPTION = "#tickets [role=option]"


def _console(page: Any, server: LiveServer) -> None:
    page.goto("/console")
    sign_in(page, server)
    page.wait_for_selector(OPTION)


def test_queue_is_one_tab_stop_and_arrow_keys_move_through_it(page: Any, live_server: LiveServer) -> None:
    _console(page, live_server)
    queue = page.locator("#tickets")
    assert page.locator(f"{OPTION}[tabindex]").count() == 0  # the list is the only tab stop
    queue.focus()
    queue.press("ArrowDown")
    queue.press("ArrowDown")
    second = page.locator(OPTION).nth(1)
    assert queue.get_attribute("aria-activedescendant") == second.get_attribute("id")
    queue.press("ArrowUp")
    first = page.locator(OPTION).nth(0)
    assert queue.get_attribute("aria-activedescendant") == first.get_attribute("id")
    subject = first.locator(".subject").text_content()
    queue.press("Enter")
    page.wait_for_selector("#ticket-title")
    assert page.locator("#ticket-title").text_content() == subject
    assert first.get_attribute("aria-selected") == "true"
    assert page.errors == []


def test_older_tickets_page_in_filters_apply_and_any_ticket_opens_by_id(
    page: Any, live_server: LiveServer
) -> None:
    everything: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page_of = api_get(
            live_server, "/v1/tickets?limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
        )
        everything += page_of["items"]
        if not page_of["next_cursor"]:
            break
        cursor = page_of["next_cursor"]
    _console(page, live_server)
    first_page = page.locator(OPTION).count()
    assert first_page == min(50, len(everything))
    if len(everything) > first_page:
        page.get_by_role("button", name="Load older tickets").click()
        # Selector waits, not wait_for_function: the pages' Content-Security-Policy forbids string eval.
        page.wait_for_selector(f":nth-match({OPTION}, {first_page + 1})")
        ids = page.locator(OPTION).evaluate_all("els => els.map(e => e.dataset.ticketId)")
        assert ids == [t["id"] for t in everything[: len(ids)]]  # newest first, no gap, no repeat
    page.select_option("#filter-channel", "amazon")
    for _ in range(300):
        metas = page.locator("#tickets [role=option] .meta").all_text_contents()
        if metas and all(m.startswith("Amazon") for m in metas):
            break
        page.wait_for_timeout(100)
    amazon = [t["id"] for t in everything if t["channel"] == "amazon"]
    shown = page.locator(OPTION).evaluate_all("els => els.map(e => e.dataset.ticketId)")
    assert shown == amazon[: len(shown)] and shown
    oldest = everything[-1]
    page.fill("#open-id", oldest["id"])
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_selector("#ticket-title")
    assert oldest["id"] in page.locator("#detail .meta").first.text_content()
    page.fill("#open-id", "t-does-not-exist")
    page.get_by_role("button", name="Open", exact=True).click()
    page.wait_for_selector("#detail .notice.bad")
    assert "No ticket t-does-not-exist" in page.locator("#detail .notice.bad").text_content()
    assert page.errors == []


def test_merge_refreshes_the_queue_and_undo_restores_it(page: Any, live_server: LiveServer) -> None:
    _console(page, live_server)
    page.fill("#open-id", "t-1001")
    page.get_by_role("button", name="Open", exact=True).click()
    # A short identity line, with why each identity was linked on demand.
    summary = page.locator("#detail details.identities summary")
    summary.wait_for()
    assert "identit" in summary.text_content() and len(summary.text_content()) < 120
    assert page.locator("#detail details.identities li").first.is_hidden()
    summary.click()
    assert page.locator("#detail details.identities li").first.is_visible()
    # Timeline entries open their ticket.
    other = page.locator("#detail .timeline button.linklike").first
    if other.count():
        target = other.text_content()
        other.click()
        page.wait_for_selector(f"#detail .meta:has-text('{target}')")
        page.fill("#open-id", "t-1001")
        page.get_by_role("button", name="Open", exact=True).click()
    merge = page.get_by_role("button", name="Merge with this ticket").first
    merge.wait_for(timeout=180_000)
    with page.expect_response(lambda r: "/v1/tickets?limit=" in r.url):
        merge.click()
        page.wait_for_selector("text=Merged (group")
    shot(page, "console-merged")
    with page.expect_response(lambda r: "/v1/tickets?limit=" in r.url):
        page.get_by_role("button", name="Undo merge").click()
        page.wait_for_selector("text=Merge undone.")
    ticket = api_get(live_server, "/v1/tickets/t-1001")
    assert ticket["merge_group_id"] is None and ticket["status"] != "merged"
    assert page.errors == []


def test_words_in_the_search_field_narrow_the_queue(page: Any, live_server: LiveServer) -> None:
    oldest = api_get(live_server, "/v1/tickets?limit=100")["items"][-1]
    word = max(oldest["body"].split(), key=len).strip(".,!?¿¡:;\"'()")
    expected = [t["id"] for t in api_get(live_server, f"/v1/tickets?limit=100&q={quote(word)}")["items"]]
    assert oldest["id"] in expected
    _console(page, live_server)
    page.fill("#filter-q", word)
    for _ in range(300):
        shown = page.locator(OPTION).evaluate_all("els => els.map(e => e.dataset.ticketId)")
        if shown == expected[:50]:
            break
        page.wait_for_timeout(100)
    assert shown == expected[:50]
    page.fill("#filter-q", "no ticket holds this phrase zqxv")
    page.wait_for_selector("#queue-count:has-text('No tickets match')")
    assert page.locator(OPTION).count() == 0
    assert not page.get_by_role("button", name="Load older tickets").is_visible()
    shot(page, "console-search")
    assert page.errors == []
