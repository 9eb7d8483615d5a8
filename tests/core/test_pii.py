"""Cards and IBANs: one definition, so redaction and the compliance checker agree on every text."""

from __future__ import annotations

import pytest

from compliance.channels import get_ruleset
from compliance.detectors import detect_sensitive_data
from core import pii
from core.redact import CARD_MASK, IBAN_MASK, redact

CARDS = [
    "Paid with 4111 1111 1111 1111 yesterday.",
    "my card 5500-0000-0000-0004 was charged twice",
    "Amex 3782 822463 10005 please refund",
    "Kreditkarte: 4012888888881881",
    "card number 4111 1111 1111 1112",  # wrong check digit, but written as a card after the word
]
NOT_CARDS = [
    "Order 113-4455667-1234567 has shipped.",
    "order number 4111111111111111 is on its way",  # Luhn-valid by chance, named an order
    "EAN 4006381333931 on the box",
    "Tracking 00340434190012877645 with DHL",
    "DPD 00617758131149",
    "Sendungsnummer 003404341234",
    "1Z999AA10123456784",
]
IBANS = [
    "IBAN DE89 3704 0044 0532 0130 00 please",
    "virement sur FR1420041010050500013M02606 merci",
    "Bank: GB82WEST12345698765432",
]
NOT_IBANS = ["Ref DE89370400440532013001 (invalid check digits)", "ticket AB12 XY"]


@pytest.mark.parametrize("text", CARDS)
def test_cards_are_found_by_both(text: str) -> None:
    assert pii.find_card_spans(text)
    assert CARD_MASK in redact(text)
    assert any("card" in f.reason for f in detect_sensitive_data(text, get_ruleset("amazon")))


@pytest.mark.parametrize("text", NOT_CARDS)
def test_ids_are_cards_for_neither(text: str) -> None:
    assert not pii.find_card_spans(text)
    assert redact(text) == text
    assert not detect_sensitive_data(text, get_ruleset("amazon"))


@pytest.mark.parametrize("text", IBANS)
def test_ibans_are_found_by_both(text: str) -> None:
    assert pii.find_iban_spans(text)
    assert IBAN_MASK in redact(text)
    assert any(f.reason == "IBAN" for f in detect_sensitive_data(text, get_ruleset("amazon")))


@pytest.mark.parametrize("text", NOT_IBANS)
def test_invalid_ibans_are_ibans_for_neither(text: str) -> None:
    assert not pii.find_iban_spans(text)
    assert redact(text) == text


def test_iban_span_stops_before_the_next_word() -> None:
    text = "IBAN: DE89370400440532013000 merci"
    (start, end), *_ = pii.find_iban_spans(text)
    assert text[start:end] == "DE89370400440532013000"
