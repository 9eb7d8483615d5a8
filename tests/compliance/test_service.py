"""The checker's result: exact spans, safe fixes, blocking, and robustness on arbitrary text."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.service import check, detect_locale
from core.errors import InvalidInputError
from core.schemas import CHANNELS, MAX_TEXT_CHARS


def test_unknown_channel_raises_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="etsy"):
        check("hello", channel="etsy")


def test_compliant_text_passes_unchanged() -> None:
    text = "Your order 123-1234567-1234567 was delivered on 25.11.2026. You may leave feedback if you wish."
    result = check(text, channel="amazon")
    assert result.passed and not result.blocking
    assert result.violations == [] and result.remaining_violations == []
    assert result.fixed_text == text
    assert result.ruleset_version == "2026.11.1"


def test_spans_are_exact() -> None:
    text = "Write to a.b@shop.example, call +33 6 12 34 56 78 😀 or see bit.ly/abc. Leave 5 stars please!"
    result = check(text, channel="amazon")
    assert {v.rule for v in result.violations} >= {
        "email_address",
        "phone_number",
        "emoji",
        "external_link",
        "review_manipulation",
    }
    for violation in result.violations:
        assert text[violation.start : violation.end] == violation.text
        assert violation.explanation


def test_emoji_is_removed_without_leaving_a_double_space() -> None:
    result = check("Your parcel is on its way 🚚 and arrives tomorrow 😊.", channel="amazon")
    assert result.fixed_text == "Your parcel is on its way and arrives tomorrow."
    assert result.passed is False and result.blocking is False
    assert result.remaining_violations == []


def test_link_is_dropped_and_sentence_kept() -> None:
    result = check("Please see the manual at https://shop.example/manual.pdf for assembly.", channel="amazon")
    assert result.fixed_text == "Please see the manual for assembly."
    assert not result.blocking


def test_email_is_replaced_with_channel_wording() -> None:
    amazon = check("If anything is missing, write to us at help@shop.example.", channel="amazon")
    assert amazon.fixed_text == "If anything is missing, write to us via Buyer-Seller Messaging."
    ebay = check("If anything is missing, write to us at help@shop.example.", channel="ebay")
    assert ebay.fixed_text == "If anything is missing, write to us via eBay messages."


def test_fix_wording_follows_the_reply_language() -> None:
    result = check("Pour toute question, écrivez à service@boutique.fr merci.", channel="amazon", locale="fr")
    assert "via la messagerie acheteur-vendeur d'Amazon" in result.fixed_text
    assert "@" not in result.fixed_text


def test_unfixable_violations_block_and_stay_in_fixed_text() -> None:
    text = "Leave us a 5-star review and get a coupon 🎁"
    result = check(text, channel="amazon")
    assert result.blocking
    assert {v.rule for v in result.remaining_violations} == {"review_manipulation", "promotion"}
    assert "🎁" not in result.fixed_text
    for violation in result.remaining_violations:
        assert result.fixed_text[violation.start : violation.end] == violation.text


def test_placeholders_and_sensitive_data_are_never_auto_fixed() -> None:
    result = check("Hi [CUSTOMER NAME], card 4242 4242 4242 4242 was refunded.", channel="web")
    assert result.blocking
    assert {(v.rule, v.fixable) for v in result.violations} == {
        ("unfilled_placeholder", False),
        ("sensitive_data", False),
    }
    assert result.fixed_text == "Hi [CUSTOMER NAME], card 4242 4242 4242 4242 was refunded."


def test_links_and_contacts_are_allowed_on_the_sellers_own_channels() -> None:
    text = "Visit https://shop.example/sale for 20% off, or call +1 555 123 4567 😊"
    for channel in ("shopify", "email", "web"):
        assert check(text, channel=channel).passed


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("Thank you for your order, we will ship it today.", "en"),
        ("Bonjour, votre commande est expédiée, merci pour votre patience.", "fr"),
        ("Vielen Dank für Ihre Bestellung, wir versenden sie heute.", "de"),
        ("Gracias por su pedido, lo enviamos hoy con el transportista.", "es"),
        ("Grazie per il suo ordine, lo spediamo oggi con il corriere.", "it"),
    ],
)
def test_locale_is_guessed_from_the_text(text: str, locale: str) -> None:
    assert detect_locale(text) == locale


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), channel=st.sampled_from(CHANNELS))
def test_arbitrary_unicode_never_crashes_and_spans_are_valid(text: str, channel: str) -> None:
    result = check(text, channel=channel)
    for violations, source in ((result.violations, text), (result.remaining_violations, result.fixed_text)):
        for violation in violations:
            assert 0 <= violation.start < violation.end <= len(source)
            assert source[violation.start : violation.end] == violation.text
    assert result.passed == (not result.violations)
    if result.passed:
        assert result.fixed_text == text


_PIECES = st.sampled_from(
    [
        "Hello",
        " ",
        "order 123-1234567-1234567",
        "😀",
        "https://x.example/a",
        "a@b.example",
        "+49 30 1234567",
        "5-star review",
        "{{ name }}",
        "coupon",
        ".",
        "\n",
        "amazon.de/returns",
        "dhl.de/tracking",
        "é",
        "(",
        ")",
    ]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=12), channel=st.sampled_from(CHANNELS))
def test_fixes_never_add_violations_and_only_shrink_fixable_ones(pieces: list[str], channel: str) -> None:
    text = " ".join(pieces)
    result = check(text, channel=channel)
    # Fixes only remove or replace text; they never create a problem that was not there.
    before = Counter(v.rule for v in result.violations)
    after = Counter(v.rule for v in result.remaining_violations)
    assert after <= before
    assert not any(v.fixable for v in result.remaining_violations if v.rule == "emoji")
    if not any(v.fixable for v in result.violations):
        assert result.fixed_text == text
    assert result.blocking == bool(result.remaining_violations)


def test_phone_fix_uses_the_reply_language_and_eats_the_preposition() -> None:
    result = check("Hola Carlos, te llamaremos al +1 (512) 555-0163 mañana.", channel="ebay")
    assert result.locale == "es"
    assert result.fixed_text == "Hola Carlos, te llamaremos a través de los mensajes de eBay mañana."


@pytest.mark.parametrize(
    "text",
    ["1 " * 10_000, "1" * 20_000, "a dot " * 3_333, "5 stars please " * 1_333, "€1 " * 6_666],
)
def test_maximum_size_pathological_text_is_checked_in_linear_time(text: str) -> None:
    # These inputs took 10-80 s each (thousands of times an ordinary text's check) when a pattern
    # backtracked quadratically. Measured against ordinary prose of the same length in the same run,
    # so a busy machine slows both sides alike.
    text = text[:MAX_TEXT_CHARS]
    prose = ("Your parcel left our warehouse today and should arrive on Friday. " * 400)[: len(text)]

    def seconds(value: str) -> float:
        started = time.perf_counter()
        check(value, channel="amazon")
        return time.perf_counter() - started

    ordinary = min(seconds(prose) for _ in range(3))
    assert seconds(text) < 50 * ordinary + 0.5
