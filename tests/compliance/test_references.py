"""Order ids and tracking numbers are facts: the checker never takes them for phone numbers."""

from __future__ import annotations

import pytest

from compliance.detectors import find_phone_spans
from compliance.references import canonical_carrier, carrier_of, find_reference_spans, is_tracking_number
from compliance.service import check

CARRIER_NUMBERS = [
    ("1Z999AA10123456784", "UPS"),
    ("TBA304858396000", "Amazon Logistics"),
    ("00340434190012877645", "DHL"),
    ("003404341234", "DHL"),
    ("00340434556677", "DHL"),
    ("JJD000390007818373491", "DHL"),
    ("9400111899223197428490", "USPS"),
    ("9612345678901234567890", "FedEx"),
    ("RR123456785GB", "Royal Mail"),
    ("6A21874930512", "Colissimo"),
    ("XY123456789FR", "La Poste"),
    ("RR123456785IT", "Poste Italiane"),
    ("PQ4F6P0702945760108001Z", "Correos"),
    ("H01HYA0041234567", "Evri"),
]


@pytest.mark.parametrize(("number", "carrier"), CARRIER_NUMBERS)
def test_carrier_formats_name_their_carrier(number: str, carrier: str) -> None:
    assert carrier_of(number) == carrier
    assert is_tracking_number(number)


@pytest.mark.parametrize("number", ["00617758131149", "15505984711236", "771928364501", "63371234567"])
def test_generic_parcel_numbers_are_parcel_numbers_of_no_named_carrier(number: str) -> None:
    assert carrier_of(number) is None
    assert is_tracking_number(number)


def test_carrier_names_are_canonical() -> None:
    assert canonical_carrier("DHL Paket") == "DHL"
    assert canonical_carrier("colissimo") == "La Poste"
    assert canonical_carrier("Hermes") == "Hermes"  # Hermes Germany; the UK arm is Evri
    assert canonical_carrier("Mondial Relay") == "Mondial Relay"


def test_a_bare_digit_run_is_a_reference_only_after_a_carrier_or_id_word() -> None:
    assert find_reference_spans("DPD 00617758131149")
    assert find_reference_spans("Paket 00617758131149 ist unterwegs")
    assert not find_reference_spans("00617758131149")


TRACKING_SENTENCES = [
    "Your order 302-1184736-9920417 is on its way with DPD, tracking number 00617758131149.",
    "Ihre Bestellung ist mit DHL unterwegs, Sendungsnummer 003404341234.",
    "Tracking: 00340434556677 (DHL).",
    "Paket 00617758131149 ist unterwegs.",
    "La commande 171-4829301-5567214 a été livrée par La Poste (numéro de suivi 6A21874930512).",
    "Su pedido 12-12044-58820 va con GLS, envío 63371234567.",
    "Order 2000139955104 shipped with FedEx 771928364501 on 25.11.2026 at 14:30.",
    "Refund AMZ-R-3M8T1VQ6 of 59,99 EUR issued.",
]


@pytest.mark.parametrize("channel", ["amazon", "ebay"])
@pytest.mark.parametrize("text", TRACKING_SENTENCES)
def test_tracking_and_order_numbers_are_not_phone_numbers(channel: str, text: str) -> None:
    assert find_phone_spans(text) == []
    result = check(text, channel=channel)
    assert not result.violations
    assert result.fixed_text == text


PHONES = [
    "Call us on +44 20 7946 0958.",
    "Rufen Sie an: 0 1 7 6 - 1 2 3 4 5 6 7.",
    "appelez le 06.12.34.56.78",
    "llámanos al 91 555 01 88",
    "chiamaci al 333 123 4567",
    "call 017641230987",
    "tel. 0044 20 7946 0958",
    "(614) 555-0172",
]


@pytest.mark.parametrize("text", PHONES)
def test_phone_numbers_are_still_found(text: str) -> None:
    assert find_phone_spans(text)


def test_a_fact_the_draft_quotes_is_never_flagged_nor_edited() -> None:
    # A digit run that would read as an international phone number, quoted from the order data.
    text = "Your parcel 0044 20 7946 0958 is on its way."
    assert check(text, channel="amazon").violations
    kept = check(text, channel="amazon", facts=["0044 20 7946 0958"])
    assert not kept.violations and kept.fixed_text == text


def test_a_fix_that_would_cut_into_a_fact_is_not_applied() -> None:
    text = "Track it at https://example.com/track/00617758131149 today."
    result = check(text, channel="amazon", facts=["00617758131149"])
    assert "00617758131149" in result.fixed_text
    assert result.blocking and result.remaining_violations
