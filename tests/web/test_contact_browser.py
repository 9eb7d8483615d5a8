"""The conditional contact form and the deflection report, in the system Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.web.conftest import LiveServer, api_get, shot, sign_in

pytestmark = pytest.mark.browser

MESSAGE = "My parcel still has not arrived and the tracking has not moved for days, where is it?"


def test_contact_form_answers_first_then_creates_exactly_one_ticket(
    page: Any, live_server: LiveServer
) -> None:
    from history.models import Ticket

    page.goto("/contact")
    page.select_option("#topic", "tracking")
    page.wait_for_selector("#answers li")
    # Before any message or submit, the topic alone shows its articles.
    shown = page.locator("#answers li").evaluate_all("els => els.map(e => e.dataset.articleId)")
    assert "kb-tracking" in shown and all("refund" not in a for a in shown)

    page.select_option("#topic", "refund")
    # Locator waits, not wait_for_function: the pages' Content-Security-Policy forbids string eval.
    page.wait_for_selector("#answers li:first-child[data-article-id*='refund']")
    snippets = " ".join(page.locator("#answers li p").all_text_contents())
    assert "](" not in snippets and not snippets.startswith("- ") and "**" not in snippets
    page.select_option("#topic", "tracking")
    page.fill("#message", MESSAGE)
    page.fill("#order_id", "#1044")
    page.fill("#email", "priya.shah@example.co.uk")
    card = page.locator(".order-card")
    card.wait_for()
    assert "Royal Mail" in card.text_content() and "RM206118093GB" in card.text_content()
    assert "in transit" in card.text_content()
    shot(page, "contact-verified-order")

    # A wrong e-mail for the same order shows no status.
    page.fill("#email", "someone.else@example.com")
    page.wait_for_selector("#order-status .notice.warn")
    assert page.locator(".order-card").count() == 0
    page.fill("#email", "priya.shah@example.co.uk")
    card.wait_for()

    button = page.locator("#submit-ticket")
    button.dblclick()
    page.wait_for_selector("#contact-form[data-submitted]")
    ticket_id = page.locator("#contact-form").get_attribute("data-submitted")
    assert "reference " + ticket_id in page.locator("#form-status").text_content()
    page.wait_for_timeout(500)
    button.click(force=True)
    page.wait_for_timeout(500)
    with live_server.runtime.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.tenant_id == live_server.settings.demo_tenant, Ticket.body == MESSAGE)
        )
    assert count == 1
    ticket = api_get(live_server, f"/v1/tickets/{ticket_id}")
    assert ticket["channel"] == "web" and ticket["tags"] == ["tracking"] and ticket["order_id"] == "#1044"
    assert ticket["subject"].startswith("Where is my order? · order #1044 · My parcel still has not arrived")
    shot(page, "contact-submitted")

    report = api_get(live_server, "/v1/reports/deflection")
    tracking = next(row for row in report["by_topic"] if row["key"] == "tracking")
    assert tracking["contacted"] >= 1 and tracking["contact_anyway"] >= 1 and tracking["submitted"] >= 1
    assert page.errors == []


def test_contact_form_in_french_from_labels_to_order_status(page: Any, live_server: LiveServer) -> None:
    page.goto("/help?lang=fr")
    assert page.locator("h1").text_content() == "Comment pouvons-nous vous aider ?"
    page.get_by_role("link", name="Nous contacter").first.click()
    page.wait_for_url("**/contact?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    labels = {
        page.locator(f"label[for={field}]").text_content()
        for field in ("topic", "channel", "message", "order_id", "email", "postcode")
    }
    assert labels == {
        "Sujet",
        "Où avez-vous acheté ?",
        "Votre message",
        "Numéro de commande",
        "E-mail",
        "ou code postal",
    }
    assert page.locator("#submit-ticket").text_content() == "J'ai encore besoin d'aide"
    assert page.locator("#message").get_attribute("placeholder") == "Dites-nous ce qui s'est passé"
    options = page.locator("#topic option").all_text_contents()
    assert options[:2] == ["Choisissez un sujet…", "Où est ma commande ?"]
    channels = page.locator("#channel option").all_text_contents()
    assert channels == ["Notre boutique en ligne", "Amazon", "eBay", "Walmart"]
    page.click("#submit-ticket")  # nothing filled in: each field says what it needs, in French
    assert page.locator("#topic-error").text_content() == "Choisissez un sujet."
    assert page.locator("#email-error").text_content().startswith("Indiquez votre adresse e-mail")
    assert page.evaluate("document.activeElement.id") == "topic"
    assert page.locator("#topic").get_attribute("aria-invalid") == "true"

    page.select_option("#topic", "tracking")
    page.fill("#order_id", "#1044")
    page.fill("#email", "priya.shah@example.co.uk")
    card = page.locator(".order-card")
    card.wait_for()
    assert page.locator(".order-card h3").text_content().startswith("Commande #1044")
    terms = page.locator(".order-card dt").all_text_contents()
    assert terms[:4] == ["Articles", "Transporteur", "Suivi", "Colis"]
    assert "en transit" in card.text_content() and "in transit" not in card.text_content()
    shot(page, "contact-french")
    assert page.errors == []


def test_widget_events_land_in_the_report_page(page: Any, live_server: LiveServer) -> None:
    before = api_get(live_server, "/v1/reports/deflection")["total"]
    page.goto("/help?channel=shopify")
    box = page.get_by_role("combobox")
    box.click()
    box.press_sequentially("how do I get a refund", delay=20)
    page.wait_for_selector(".dfw-option")
    box.press("ArrowDown")
    box.press("Enter")
    page.locator(".dfw-vote button[data-vote=helpful]").click()
    page.wait_for_timeout(400)
    after = api_get(live_server, "/v1/reports/deflection")["total"]
    assert after["sessions"] == before["sessions"] + 1
    assert after["clicks"] == before["clicks"] + 1 and after["helpful"] == before["helpful"] + 1
    channels = {row["key"] for row in api_get(live_server, "/v1/reports/deflection")["by_channel"]}
    assert "shopify" in channels

    page.goto("/reports")
    sign_in(page, live_server)
    page.wait_for_selector(".kpis")
    assert int(page.locator(".kpis").get_attribute("data-sessions")) == after["sessions"]
    assert page.locator(".chart .bars .seg").count() > 0
    provisional = page.locator("#kpi-provisional").text_content()
    assert "Provisional deflection rate" in provisional and f"of {after['sessions']} sessions" in provisional
    assert "Final deflection rate" in page.locator("#kpi-final").text_content()
    page.wait_for_selector("#root-causes table")
    assert "(none)" not in page.locator("#app").text_content()
    shot(page, "reports")
    csv_text = api_get(live_server, "/v1/reports/deflection?format=csv")
    assert csv_text.splitlines()[0].startswith("dimension,key,sessions")
    assert page.errors == []


def test_agent_console_shows_history_duplicates_and_a_draft(page: Any, live_server: LiveServer) -> None:
    page.goto("/console")
    sign_in(page, live_server)
    page.wait_for_selector("#tickets li[data-ticket-id]")
    assert page.locator("#tickets li[data-ticket-id]").count() > 10
    page.locator("#tickets li[data-ticket-id]").first.click()
    page.locator("#detail .timeline li").first.wait_for()
    page.get_by_role("button", name="Draft reply").click()
    page.wait_for_selector("#detail .draft-text, #detail .notice.bad", timeout=180_000)
    draft = page.locator("#detail .draft-text")
    assert draft.count() == 1 and len(draft.input_value()) > 20
    draft.fill(draft.input_value() + "\nEdited by the agent.")
    assert page.locator("#detail .coverage li").count() >= 1
    # The demo's tickets came by import, not by mail: sending is refused with the reason, nothing queued.
    page.get_by_role("button", name="Approve and send").click()
    refused = page.locator("#detail [role=status]", has_text="Not sent")
    refused.wait_for()
    assert "did not arrive by mail" in refused.inner_text()
    page.wait_for_timeout(500)
    shot(page, "console")
    assert page.errors == []


def test_each_bad_field_gets_its_own_message(page: Any, live_server: LiveServer) -> None:
    page.goto("/contact")
    page.select_option("#topic", "refund")
    for email, problem in (
        ("", "Enter your e-mail address"),
        ("emily.carter@", "looks incomplete"),
        ("emily@@example.com", "looks incomplete"),
    ):
        page.fill("#message", "hi")
        page.fill("#email", email)
        page.click("#submit-ticket")
        assert page.evaluate("document.activeElement.id") == "message"
        assert "at least 10 characters" in page.locator("#message-error").text_content()
        assert problem in page.locator("#email-error").text_content(), email
        assert page.locator("#email").get_attribute("aria-invalid") == "true"
        assert page.locator("#topic-error").is_hidden()
    # Fixing a field clears its message at once.
    page.fill("#email", "emily.carter@example.com")
    assert (
        page.locator("#email-error").is_hidden()
        and page.locator("#email").get_attribute("aria-invalid") is None
    )
    assert page.locator("#contact-form[data-submitted]").count() == 0
    assert page.errors == []


def test_purchase_channel_lands_on_the_ticket(page: Any, live_server: LiveServer) -> None:
    page.goto("/contact")
    page.select_option("#topic", "return")
    page.select_option("#channel", "ebay")
    page.fill("#message", "The lamp shade I bought is the wrong colour. How do I send it back?")
    page.fill("#email", "colour.mixup@example.com")
    page.click("#submit-ticket")
    page.wait_for_selector("#contact-form[data-submitted]")
    ticket = api_get(
        live_server, f"/v1/tickets/{page.locator('#contact-form').get_attribute('data-submitted')}"
    )
    assert ticket["channel"] == "ebay" and ticket["tags"] == ["return_label"]
    assert ticket["subject"] == "Returning an item · The lamp shade I bought is the wrong colour."


def test_a_delivered_parcel_shows_no_expected_date(page: Any, live_server: LiveServer) -> None:
    page.goto("/contact")
    page.select_option("#topic", "tracking")
    page.fill("#order_id", "171-4829301-5567214")
    page.fill("#email", "k7d2m9xq4p1v8zt@marketplace.amazon.fr")
    card = page.locator(".order-card")
    card.wait_for()
    terms = page.locator(".order-card dt").all_text_contents()
    assert "delivered" in card.text_content() and "Expected" not in terms
    assert page.errors == []


def test_a_wrong_agent_key_says_so(page: Any, live_server: LiveServer) -> None:
    page.goto("/console")
    page.fill("#agent-key", "dfk_age_not-a-real-key")
    page.click("#keybox button[type=submit]")
    error = page.locator("#key-error")
    error.wait_for()
    assert "not accepted" in error.text_content()
    assert page.locator("#agent-key").get_attribute("aria-invalid") == "true"
    page.fill("#agent-key", live_server.keys["public"])
    page.click("#keybox button[type=submit]")
    page.wait_for_selector("#key-error:has-text('public')")
    assert page.locator("#app").is_hidden()
