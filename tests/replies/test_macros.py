from __future__ import annotations

import pytest

from core.errors import ConflictError, InvalidInputError
from replies import macros
from replies.models import MacroVersion
from runtime import Runtime

VARS = {
    "order_id": "113-4455667-1234567",
    "carrier": "DHL",
    "tracking_number": "0034",
    "shipment_state": "in_transit",
    "shipment_status": "in transit",
}


@pytest.mark.parametrize("locale", ["en", "fr", "de", "es", "it"])
@pytest.mark.parametrize(
    "key",
    [
        "tracking",
        "return_label",
        "refund_status",
        "damaged_in_transit",
        "cancellation",
        "missing_item",
        "product_question",
        "invoice",
        "merged_note",
    ],
)
def test_every_seed_macro_renders_in_every_locale(runtime: Runtime, key: str, locale: str) -> None:
    variables = {
        **VARS,
        "order_state": "processing",
        "items": "Lamp",
        "article_title": "Guide",
        "refund_id": "R-1",
        "refund_state": "pending",
        "refund_status": "pending",
        "refund_amount": "9.99 EUR",
    }
    with runtime.session() as session:
        rendered = macros.render_macro(
            session, tenant_id="t", key=key, channel="amazon", locale=locale, variables=variables
        )
    assert rendered.locale == locale
    assert "{{" not in rendered.text and "113-4455667-1234567" in rendered.text or key == "merged_note"


def test_amazon_return_macro_points_to_amazon_returns_process(runtime: Runtime) -> None:
    with runtime.session() as session:
        amazon = macros.render_macro(
            session,
            tenant_id="t",
            key="return_label",
            channel="amazon",
            locale="en",
            variables={"order_id": "113-1"},
        )
        shop = macros.render_macro(
            session,
            tenant_id="t",
            key="return_label",
            channel="shopify",
            locale="en",
            variables={"order_id": "#1001"},
        )
    assert "Amazon's Online Returns Center" in amazon.text and amazon.channel == "amazon"
    assert "Amazon" not in shop.text and shop.channel == "*"


def test_unfilled_placeholder_raises_instead_of_rendering(runtime: Runtime) -> None:
    with runtime.session() as session, pytest.raises(macros.MacroRenderError) as caught:
        macros.render_macro(
            session,
            tenant_id="t",
            key="tracking",
            channel="amazon",
            locale="en",
            variables={
                "order_id": "113-1",
                "shipment_state": "in_transit",
                "tracking_number": "1Z999AA10123456784",
                "carrier": None,
            },
        )
    assert caught.value.missing == "carrier"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ order_id.__class__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ order_id.format.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
    ],
)
def test_sandbox_escape_attempts_are_rejected_at_save_and_never_render(runtime: Runtime, body: str) -> None:
    with runtime.session() as session:
        with pytest.raises(InvalidInputError):
            macros.save_version(
                session,
                tenant_id="t",
                key="tracking",
                channel="*",
                locale="en",
                body=body,
                created_by="admin",
            )
        with pytest.raises(macros.MacroRenderError):
            macros.render_body(body, {"order_id": "113-1"})


def test_literal_placeholder_in_output_is_an_error() -> None:
    with pytest.raises(macros.MacroRenderError):
        macros.render_body("Your order [ORDER ID] ships {{ '{{' }} soon", {})


def test_unknown_variable_is_rejected_at_save(runtime: Runtime) -> None:
    with runtime.session() as session, pytest.raises(InvalidInputError, match="coupon_code"):
        macros.save_version(
            session,
            tenant_id="t",
            key="tracking",
            channel="*",
            locale="en",
            body="Use {{ coupon_code }}",
            created_by="admin",
        )


def test_change_creates_new_version_and_keeps_the_old_one_immutable(runtime: Runtime) -> None:
    with runtime.session() as session:
        before = macros.render_macro(
            session, tenant_id="t", key="invoice", channel="*", locale="en", variables={"order_id": "#1001"}
        )
        saved = macros.save_version(
            session,
            tenant_id="t",
            key="invoice",
            channel="*",
            locale="en",
            body="Invoice for {{ order_id }} attached.",
            created_by="admin",
        )
        after = macros.render_macro(
            session, tenant_id="t", key="invoice", channel="*", locale="en", variables={"order_id": "#1001"}
        )
    assert (before.version, saved.version, after.version) == (1, 2, 2)
    assert after.text == "Invoice for #1001 attached."
    with runtime.session() as session:
        old = session.get(MacroVersion, before.macro_version_id)
        assert old is not None and "#1001" not in old.body
    with pytest.raises(ConflictError), runtime.session() as session:
        old = session.get(MacroVersion, before.macro_version_id)
        assert old is not None
        old.body = "tampered"
        session.flush()
    with pytest.raises(ConflictError), runtime.session() as session:
        session.delete(session.get(MacroVersion, before.macro_version_id))
        session.flush()


def test_unknown_locale_falls_back_to_english(runtime: Runtime) -> None:
    with runtime.session() as session:
        rendered = macros.render_macro(
            session,
            tenant_id="t",
            key="invoice",
            channel="ebay",
            locale="nl",
            variables={"order_id": "12-12345-12345"},
        )
    assert rendered.locale == "en" and "12-12345-12345" in rendered.text
