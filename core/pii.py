"""Payment card numbers and IBANs in free text: the one definition that redaction (core.redact) and the
compliance checker (compliance.detectors) share, so that both agree on what a card or an IBAN is.

Checksums come from python-stdnum (Luhn, ISO 13616 with each country's IBAN length and format); this
module only finds the candidates in prose and decides from the words before them.
"""

from __future__ import annotations

import re

from stdnum import iban as stdnum_iban
from stdnum import luhn

_I = re.IGNORECASE

# Words that make a following number an identifier (order, tracking, invoice...) rather than a card or
# a phone number, in EN/FR/DE/ES/IT. Anchored at the end: the word must sit right before the number.
ID_CONTEXT = (
    r"\b(?:orders?|order\s*(?:id|no|number|#)|commandes?|bestell\w*|auftrag\w*|pedidos?|ordin[ei]|"
    r"tracking|track|suivi|sendung\w*|seguimiento|spedizion[ei]|tracciamento|colis|parcel|package|"
    r"paket\w*|shipment|invoices?|factures?|rechnung\w*|facturas?|fattur[ae]|ref\w*|r[ée]f[ée]rence|"
    r"sku|asin|ean|upc|isbn|gtin|items?|article|artikel\w*|articolo|art[ií]culo|model\w*|mod[eè]le|"
    r"serial|s[ée]rie|serien\w*|case|ticket|rma|return|retour|r[üu]cksend\w*|devoluci[oó]n|reso|"
    r"kunden\w*|client\w*|customer\s*(?:id|no|number)|siret|siren|vat|tva|ust\w*|mwst|iva|p\.?\s?iva|"
    r"steuer\w*|hrb|account|konto|compte|cuenta|conto|transaction|transaktion|n[°ºo]|nr|no\.|#|id)\b\W{0,6}(?:\w+\W{1,3}){0,2}$"
)
CARD_CONTEXT = (
    r"\b(?:card|credit|debit|visa|mastercard|amex|carte|cb|karte|kreditkarte|tarjeta|carta|"
    r"cart[ao]\s+di\s+credito)\b"
)
_ID_BEFORE = re.compile(ID_CONTEXT, _I)
_CARD_BEFORE = re.compile(CARD_CONTEXT, _I)
_IBAN_BEFORE = re.compile(r"\b(?:iban|bank|konto|compte|cuenta|conto|rib|bic|swift)\b", _I)

# 13-19 digits, contiguous or grouped by single spaces or hyphens as cards are printed.
_CARD_CANDIDATE = re.compile(r"(?<![\w.\-])\d(?:[ \-]?\d){12,18}(?![\w])")
# Issuer prefixes (Visa, Mastercard incl. 2-series, Amex, Diners, JCB, Discover, UnionPay, Maestro).
_CARD_PREFIX = re.compile(
    r"^(?:4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3[068]|35|6011|64[4-9]|65|62|5[06-9]|6)"
)
# 13-digit numbers are left out on purpose: EAN-13 barcodes and some parcel numbers have that length
# and one in ten of them passes Luhn.
_CARD_LENGTHS = frozenset({14, 15, 16, 17, 18, 19})
_CARD_SHAPED = re.compile(r"\d{4}([ \-]?)\d{4}\1\d{4}\1\d{4}")
_IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_IBAN_SHAPED = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?")


def after_id_word(before: str) -> bool:
    """Whether the text just before a number names it as an order, tracking, invoice... number."""
    return _ID_BEFORE.search(before[-30:]) is not None


def is_card_number(candidate: str, before: str = "") -> bool:
    """A payment card number, given the text written just before it.

    A number with an issuer prefix and a valid Luhn digit is a card unless the words before it call it
    an order or tracking number (a Luhn-valid id is a coincidence). A number printed in 4-4-4-4 groups
    right after the word "card" is a leaked card even with a wrong check digit.
    """
    digits = re.sub(r"[ \-]", "", candidate)
    if len(digits) in _CARD_LENGTHS and _CARD_PREFIX.match(digits) and luhn.is_valid(digits):
        return _CARD_BEFORE.search(before[-40:]) is not None or not after_id_word(before)
    return _CARD_SHAPED.fullmatch(candidate) is not None and _CARD_BEFORE.search(before[-40:]) is not None


def find_card_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every payment card number in ``text``."""
    return [
        m.span()
        for m in _CARD_CANDIDATE.finditer(text)
        if is_card_number(m.group(0), text[max(0, m.start() - 40) : m.start()])
    ]


def iban_valid(candidate: str) -> bool:
    """ISO 13616: country format, length and mod-97 check digits (spaces allowed)."""
    return bool(stdnum_iban.is_valid(candidate))


def find_iban_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every IBAN: a valid one anywhere, an IBAN-shaped one after a banking word."""
    spans: list[tuple[int, int]] = []
    for match in _IBAN_CANDIDATE.finditer(text):
        start, end = match.start(), match.end()
        banking_word = _IBAN_BEFORE.search(text[max(0, start - 30) : start]) is not None
        # The greedy pattern may swallow a following word; back off to the longest valid IBAN.
        while end - start >= 15:
            chunk = text[start:end].rstrip()
            if iban_valid(chunk) or (banking_word and _IBAN_SHAPED.fullmatch(chunk)):
                spans.append((start, start + len(chunk)))
                break
            end -= 1
    return spans


def find_card_and_iban_spans(text: str) -> list[tuple[int, int]]:
    """Cards and IBANs together, in text order."""
    return sorted(find_card_spans(text) + find_iban_spans(text))
