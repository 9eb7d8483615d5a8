from __future__ import annotations

import re

import pytest

from history import service as history_service
from replies.drafts import compose, redact
from replies.factcheck import check_facts
from replies.models import Draft
from replies.schemas import DraftCreate, DraftRead
from runtime import Runtime
from tests.factories import article, load_articles


def _draft(runtime: Runtime, tenant_id: str, **fields: object) -> DraftRead:
    with runtime.session() as session:
        return compose(session, tenant_id=tenant_id, request=DraftCreate(**fields), settings=runtime.settings)


def test_every_question_answered_with_the_right_orders_facts(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="en",
        text=(
            "Hi, where is my lamp from order 113-4455667-1234567? "
            "And has the refund for my kettle order 113-9999999-7654321 gone through? I also need an invoice."
        ),
    )
    topics = {q.topic: q for q in draft.questions}
    assert set(topics) == {"tracking", "refund_status", "invoice"}
    assert all(q.status == "answered" for q in draft.questions)
    assert topics["tracking"].order_id == "113-4455667-1234567"
    assert topics["refund_status"].order_id == "113-9999999-7654321"
    # The invoice question names no order: the nearest one mentioned before it is used.
    assert topics["invoice"].order_id == "113-9999999-7654321"
    assert (
        "DHL" in draft.reply and "00340434190012877645" in draft.reply and "27 November 2026" in draft.reply
    )
    assert "AMZ-R-77" in draft.reply and "45.00 EUR" in draft.reply
    assert "UPS" not in draft.reply.split("AMZ-R-77")[0].split("DHL")[0]
    assert draft.fact_check.passed and not draft.compliance.blocking and draft.ready_to_send
    assert {("tracking_number", "00340434190012877645"), ("refund_id", "AMZ-R-77")} <= {
        (f.name, f.value) for f in draft.facts
    }
    assert {m.key for m in draft.macros} >= {"greeting", "tracking", "refund_status", "invoice", "closing"}


def test_most_recent_relevant_order_of_the_customer_on_any_channel(runtime: Runtime, shop: str) -> None:
    with runtime.session() as session:
        from history.service import get_order

        order = get_order(session, tenant_id=shop, order_id="113-4455667-1234567")
        assert order is not None
        customer_id = order.customer_id
    draft = _draft(
        runtime,
        shop,
        channel="email",
        locale="en",
        customer_id=customer_id,
        text="Where is my parcel? And when will I get my money back?",
    )
    topics = {q.topic: q for q in draft.questions}
    assert topics["tracking"].order_id == "113-4455667-1234567"  # the one still in transit
    assert topics["refund_status"].order_id == "113-9999999-7654321"  # the one with a refund


def test_reply_in_customer_language(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        text="Bonjour, où est mon colis pour la commande 113-4455667-1234567 ?",
    )
    assert draft.locale == "fr"
    assert (
        draft.reply.startswith("Bonjour Jane Doe")
        and "27 novembre 2026" in draft.reply
        and "en transit" in draft.reply
    )


def test_missing_facts_make_the_question_need_an_agent(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="shopify",
        locale="en",
        order_id="#1001",
        text="Where is my parcel? Also how do I assemble the stool?",
    )
    topics = {q.topic: q for q in draft.questions}
    # Not shipped yet is an answer from the order's own status, not a missing fact.
    assert topics["tracking"].status == "answered"
    assert "#1001 has not been shipped yet (current status: being processed)" in draft.reply
    assert topics["product_question"].status == "answered"
    assert topics["product_question"].article_id == "kb-assembly-alto-stool"
    assert "8 bolts" in draft.reply and "https://help.example.com/alto" in draft.reply
    assert "{{" not in draft.reply


def test_an_english_page_is_quoted_to_a_customer_without_one_in_their_language(
    runtime: Runtime, shop: str
) -> None:
    # The seller's English page is its version for foreign customers: the answer is quoted, marked as
    # English; named alone, a French customer got a title (and on a marketplace not even its link).
    draft = _draft(
        runtime,
        shop,
        channel="shopify",
        locale="fr",
        order_id="#1001",
        text="Bonjour, comment monter le tabouret Alto ? Il faut combien de vis ?",
    )
    (question,) = [q for q in draft.questions if q.topic == "product_question"]
    assert question.status == "answered" and question.article_id == "kb-assembly-alto-stool"
    assert "Il indique (en anglais) : Attach the four legs to the seat with the 8 bolts" in draft.reply


def test_a_third_language_page_is_named_not_quoted(runtime: Runtime, shop: str) -> None:
    load_articles(
        runtime,
        shop,
        [
            article(
                id="kb-entretien-nordlys",
                title="Entretien du banc Nordlys",
                body="Huilez le banc Nordlys une fois par an avec de l'huile de lin, jamais de cire.",
                locale="fr",
                tags=["product_question"],
                url="https://help.example.com/chene",
            )
        ],
    )
    draft = _draft(
        runtime,
        shop,
        channel="web",
        locale="de",
        text="Hallo, wie pflege ich meine Nordlys Bank? Welches Öl soll ich nehmen?",
    )
    (question,) = [q for q in draft.questions if q.topic == "product_question"]
    assert question.status == "answered" and question.article_id == "kb-entretien-nordlys"
    assert "„Entretien du banc Nordlys“" in draft.reply and "https://help.example.com/chene" in draft.reply
    assert "Huilez" not in draft.reply


def test_a_shipped_order_without_tracking_number_needs_an_agent(runtime: Runtime, shop: str) -> None:
    _shipped_without_shipment(runtime, shop)
    draft = _draft(
        runtime, shop, channel="shopify", locale="en", order_id="#1001", text="Where is my parcel?"
    )
    (tracking,) = draft.questions
    assert tracking.status == "needs_agent" and "no shipment is recorded" in tracking.reason
    assert not draft.ready_to_send
    assert [n.topic for n in draft.needs_you] == ["tracking"]


def test_no_order_at_all_needs_an_agent(runtime: Runtime, shop: str) -> None:
    draft = _draft(runtime, shop, channel="ebay", locale="en", text="Where is my parcel?")
    assert draft.questions[0].status == "needs_agent" and "which order" in draft.questions[0].reason


def test_a_policy_question_without_an_order_is_answered_from_its_article(runtime: Runtime, shop: str) -> None:
    # Asked before buying: no order exists, and the seller's invoice article answers it.
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="en",
        text="If I order today, can you put my company name on the invoice?",
    )
    (invoice,) = draft.questions
    assert invoice.topic == "invoice" and invoice.status == "answered"
    assert invoice.article_id == "kb-invoice-amazon" and invoice.order_id is None
    assert "no order known" in invoice.source
    assert '"Invoices on Amazon"' in draft.reply
    assert draft.reply.count("please add its order number to your reply") == 1
    assert [m.key for m in draft.macros] == ["greeting", "article_answer", "order_number_request", "closing"]
    assert draft.ready_to_send


def test_an_email_is_answered_from_an_article_the_seller_scoped_to_the_web(
    runtime: Runtime, shop: str
) -> None:
    load_articles(
        runtime,
        shop,
        [
            article(
                id="kb-invoice-web",
                title="Invoices for our web shop",
                body="Every invoice can carry your company name and VAT number.",
                channels=["shopify", "web"],
                tags=["invoice"],
            )
        ],
    )
    draft = _draft(runtime, shop, channel="email", locale="en", text="Can the invoice show my company name?")
    (invoice,) = draft.questions
    assert invoice.status == "answered" and invoice.article_id == "kb-invoice-web"
    walmart = _draft(
        runtime, shop, channel="walmart", locale="en", text="Can the invoice show my company name?"
    )
    assert walmart.questions[0].status == "needs_agent"


def test_an_article_whose_title_the_channel_forbids_is_not_named_and_its_question_needs_you(
    runtime: Runtime, shop: str
) -> None:
    load_articles(
        runtime,
        shop,
        [
            article(
                id="kb-cancel-amazon",
                title="Cancel an order and get 10% off your next one with code SORRY10",
                body="An order can be cancelled until it ships: Request cancellation in Your Orders.",
                channels=["amazon"],
                tags=["cancellation"],
            )
        ],
    )
    text = "Can I still cancel my order before it ships?"
    draft = _draft(runtime, shop, channel="amazon", locale="en", text=text)
    (cancel,) = draft.questions
    assert cancel.topic == "cancellation" and cancel.status == "needs_agent"
    assert "kb-cancel-amazon" in cancel.reason and "title is not allowed on Amazon" in cancel.reason
    assert "SORRY10" not in draft.reply and "10% off" not in draft.reply
    assert draft.compliance.passed and not draft.ready_to_send


def test_the_order_number_is_asked_for_once(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="en",
        text="Can the invoice show my company name? And will I get a return label if it does not fit?",
    )
    assert {q.topic: (q.status, q.article_id) for q in draft.questions} == {
        "invoice": ("answered", "kb-invoice-amazon"),
        "return_label": ("answered", "kb-returns-amazon"),
    }
    assert draft.reply.count("please add its order number to your reply") == 1


def test_a_holding_line_without_an_order_already_asks_for_the_number(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="en",
        text="Where is my parcel? And can the invoice show my company name?",
    )
    topics = {q.topic: q for q in draft.questions}
    assert topics["tracking"].status == "needs_agent" and "which order" in topics["tracking"].reason
    assert topics["invoice"].status == "answered"
    assert "please add it to your reply" in draft.reply
    assert "please add its order number" not in draft.reply
    assert not draft.ready_to_send


def test_fact_check_flags_invented_numbers_and_carriers() -> None:
    result = check_facts(
        "Order 113-1 ships with UPS on 3 December, tracking 999.", ["113-1", "DHL", "tracking 123"]
    )
    assert not result.passed and set(result.unsupported) >= {"999", "carrier:ups", "3", "month:12"}
    assert check_facts("Refund of 19,99 EUR for #1001.", ["19.99 EUR", "#1001"]).passed


def test_compliance_fixes_are_applied_to_amazon_drafts(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime, shop, channel="amazon", locale="en", order_id="#1001", text="How do I assemble the stool?"
    )
    assert "https://" not in draft.reply  # the help-centre link is never put into an Amazon message
    assert not draft.compliance.blocking


def test_stored_draft_keeps_macro_versions_and_redacts_card_numbers(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="en",
        text="My card 4111 1111 1111 1111 was charged, where is order 113-4455667-1234567?",
    )
    with runtime.session() as session:
        row = session.get(Draft, draft.id)
        assert row is not None
        # core.redact names what it masked ("[REDACTED:card]"); the reply-side detectors write "[redacted]".
        assert "4111" not in row.message and "[redacted" in row.message.lower()
        assert any(m["key"] == "tracking" and m["version"] == 1 for m in row.macro_versions)


def test_redact_masks_iban_and_email() -> None:
    text = redact("IBAN DE89 3704 0044 0532 0130 00, mail me at jane@example.com")
    assert "3704" not in text and "jane@example.com" not in text


@pytest.mark.slow  # a timing benchmark: never in the default suite, where a busy machine would fail it
@pytest.mark.parametrize("n", [1])
def test_draft_under_300_ms(runtime: Runtime, shop: str, n: int) -> None:
    text = (
        "Where is my lamp from order 113-4455667-1234567? Can I return it? Is the refund for "
        "113-9999999-7654321 "
        "through? I need an invoice too. Also the lamp arrived damaged and a part is missing."
    )
    _draft(runtime, shop, channel="amazon", locale="en", text=text)  # first call compiles templates
    took = [_draft(runtime, shop, channel="amazon", locale="en", text=text).took_ms for _ in range(5)]
    assert sorted(took)[2] < 300
    assert re.search(r"\d", text)


def _shipped_without_shipment(runtime: Runtime, shop: str) -> None:
    """#1001 marked shipped with no shipment recorded: its tracking question cannot be answered."""
    with runtime.session() as session:
        order = history_service.get_order(session, tenant_id=shop, order_id="#1001")
        assert order is not None
        order.status = "shipped"


def test_unanswerable_question_is_acknowledged_with_the_holding_line(runtime: Runtime, shop: str) -> None:
    _shipped_without_shipment(runtime, shop)
    draft = _draft(
        runtime,
        shop,
        channel="shopify",
        locale="en",
        order_id="#1001",
        text="Where is my parcel? Also how do I assemble the stool?",
    )
    tracking = next(q for q in draft.questions if q.topic == "tracking")
    assert tracking.status == "needs_agent" and "no shipment" in tracking.reason
    assert "We are checking the delivery status for order #1001 and will come back to you" in draft.reply
    # The holding line keeps the question's place: before the assembly answer, as the customer asked.
    assert draft.reply.index("delivery status") < draft.reply.index("8 bolts")
    assert {m.key for m in draft.macros} >= {"pending", "product_question"}
    assert not draft.ready_to_send and draft.fact_check.passed


@pytest.mark.parametrize(
    ("locale", "text", "line"),
    [
        ("fr", "Où est mon colis ?", "Nous vérifions l'état de la livraison pour la commande #1001"),
        ("de", "Wo ist mein Paket?", "Wir prüfen den Lieferstatus (Bestellung #1001)"),
        ("es", "¿Dónde está mi paquete?", "Estamos comprobando el estado de la entrega del pedido #1001"),
        ("it", "Dov'è il mio pacco?", "Stiamo verificando lo stato della consegna per l'ordine #1001"),
    ],
)
def test_holding_line_in_the_customers_language(
    runtime: Runtime, shop: str, locale: str, text: str, line: str
) -> None:
    _shipped_without_shipment(runtime, shop)
    draft = _draft(runtime, shop, channel="shopify", locale=locale, order_id="#1001", text=text)
    assert draft.questions[0].status == "needs_agent" and line in draft.reply


def test_holding_line_without_an_order_asks_for_the_number(runtime: Runtime, shop: str) -> None:
    draft = _draft(runtime, shop, channel="ebay", locale="en", text="Where is my parcel?")
    assert "which order" in draft.questions[0].reason
    assert "We are checking the delivery status and will come back" in draft.reply
    assert "please add it to your reply" in draft.reply


def test_a_wrong_item_is_answered_from_the_order_not_from_an_unrelated_guide(
    runtime: Runtime, shop: str
) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="shopify",
        locale="de",
        text=(
            "Hallo, in Bestellung #1001 waren statt der Alto Barhocker zwei Küchenstühle. "
            "Schicken Sie mir die richtigen?"
        ),
    )
    (question,) = [q for q in draft.questions if q.topic == "wrong_item"]
    assert question.status == "answered" and question.macro == "wrong_item" and question.order_id == "#1001"
    assert "#1001" in draft.reply and "Alto bar stool" in draft.reply and "Foto" in draft.reply
    assert not question.article_id  # no product guide stands in for the order's answer


def test_a_cancellation_too_late_names_the_shipment_it_is_on(runtime: Runtime, shop: str) -> None:
    draft = _draft(
        runtime,
        shop,
        channel="amazon",
        locale="fr",
        text="Bonjour, je voudrais annuler la commande 113-4455667-1234567, je n'en ai plus besoin.",
    )
    (question,) = [q for q in draft.questions if q.topic == "cancellation"]
    assert question.status == "answered" and question.macro == "cancellation"
    # Too late to cancel: the customer needs the parcel's carrier and number to refuse or return it.
    assert "ne peut donc plus être annulée" in draft.reply
    assert "DHL" in draft.reply and "00340434190012877645" in draft.reply


def test_the_greeting_names_the_order_when_no_answer_does(runtime: Runtime, shop: str) -> None:
    load_articles(
        runtime,
        shop,
        [
            article(
                id="kb-gift-cards",
                title="Paying with a gift card",
                body="You can pay with a gift card at checkout: enter its code under Gift card.",
                tags=["other"],
                url=None,
            )
        ],
    )
    with runtime.session() as session:
        draft = compose(
            session,
            tenant_id=shop,
            request=DraftCreate(
                channel="shopify",
                locale="en",
                text="Can I pay with a gift card at checkout?",
                order_id="#1001",
            ),
            settings=runtime.settings,
            engine=runtime.search,
        )
    (question,) = draft.questions
    assert question.status == "answered" and question.article_id == "kb-gift-cards"
    assert "Thank you for your message about order #1001." in draft.reply
    # An answer that quotes the order already says which one it is.
    quoted = _draft(
        runtime, shop, channel="shopify", locale="en", text="Where is my order?", order_id="#1001"
    )
    assert "Thank you for your message." in quoted.reply and quoted.reply.count("#1001") == 1


def test_the_order_the_greeting_names_is_no_invented_fact(runtime: Runtime, shop: str) -> None:
    # Nothing answerable was asked: the greeting still names the order the message came with, and that
    # order number comes from the history, not from nowhere.
    draft = _draft(runtime, shop, channel="shopify", locale="en", text="Thanks a lot!", order_id="#1001")
    assert "#1001" in draft.reply
    assert draft.fact_check.passed and draft.fact_check.unsupported == []
