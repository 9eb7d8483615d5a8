"""Order ids and parcel tracking numbers in free text, recognised by their marketplace or carrier format.

A reply must be able to quote these without the checker taking them for phone numbers or card numbers,
and a draft needs the carrier a number belongs to (for its tracking link).

The PyPI package `tracking-numbers` (0.1.8) was measured for this and not kept: of the carrier formats
below it recognised UPS, FedEx, USPS and Amazon but none of DHL Paket, DPD, GLS, Royal Mail domestic,
Colissimo, Poste Italiane or Correos, read the DHL number 00340434190012877645 as USPS, and took any
Luhn-free 12-digit number for FedEx. This table is tested in tests/compliance/test_references.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core import pii


@dataclass(frozen=True)
class TrackingFormat:
    carrier: str
    pattern: re.Pattern[str]
    # Specific formats (a carrier prefix or check letters) name their carrier; generic digit runs
    # (DPD's 14 digits, FedEx's 12) only say "a parcel number" unless the carrier is known.
    specific: bool = True


def _format(carrier: str, pattern: str, *, specific: bool = True) -> TrackingFormat:
    return TrackingFormat(carrier, re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])"), specific)


# Most specific first: the first format that matches a number names its carrier.
TRACKING_FORMATS: tuple[TrackingFormat, ...] = (
    _format("UPS", r"1Z[0-9A-Z]{16}"),
    _format("Amazon Logistics", r"TBA\d{12}"),
    # DHL Paket: GS1 company prefix 340434 in the SSCC (with or without the "00" application id), and
    # the 12-digit Paket numbers that start with the same digits; JJD/JVGL for DHL Parcel international.
    _format("DHL", r"(?:00)?340434\d{4,14}|JJD\d{10,20}|JVGL\d{8,20}|GM\d{16,20}"),
    _format("USPS", r"9[1-5]\d{18,24}|(?:82|420\d{5})\d{20,24}"),
    _format("FedEx", r"96\d{20}"),
    _format("Correos", r"PQ[0-9A-Z]{13,21}"),
    _format("Evri", r"H[0-9A-Z]{15}"),
    _format("Hermes", r"H\d{13}"),
    _format("Colissimo", r"\d[A-Z]\d{11}"),
    _format("Poste Italiane", r"PI\d{10,13}"),
    _format("BRT", r"BRT\d{10}"),
    _format("GLS", r"GL\d{10}|Z[0-9A-Z]{7}"),
    # UPU S10: two service letters, eight digits and a check digit, the country (RR123456785GB, ...FR).
    _format("Royal Mail", r"[A-Z]{2}\d{9}GB"),
    _format("La Poste", r"[A-Z]{2}\d{9}FR"),
    _format("Poste Italiane", r"[A-Z]{2}\d{9}IT"),
    _format("Correos", r"[A-Z]{2}\d{9}ES"),
    _format("Deutsche Post", r"[A-Z]{2}\d{9}DE"),
    _format("postal (S10)", r"[A-Z]{2}\d{9}[A-Z]{2}"),
    _format("DPD", r"0\d{13}|\d{14}|\d{28}", specific=False),
    _format("FedEx", r"\d{12}|\d{15}|\d{20}", specific=False),
    _format("GLS", r"\d{11}", specific=False),
)

# Marketplace order ids (Amazon 3-7-7, eBay 2-5-5, Walmart 13-15 digits, a shop's #1234).
ORDER_ID_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])"),
    re.compile(r"(?<![\d-])\d{2}-\d{5}-\d{5}(?![\d-])"),
    re.compile(r"(?<![\w+])#\s?\d{3,9}(?![\d-])"),
)
_CARRIER_ALIASES = {
    "dhl paket": "DHL",
    "dhl express": "DHL",
    "deutsche post dhl": "DHL",
    "myhermes": "Hermes",
    "colissimo": "La Poste",
    "laposte": "La Poste",
    "la poste colissimo": "La Poste",
    "amazon": "Amazon Logistics",
    "amazon shipping": "Amazon Logistics",
    "poste": "Poste Italiane",
    "poste italiane": "Poste Italiane",
    "united states postal service": "USPS",
    "royalmail": "Royal Mail",
}


def canonical_carrier(name: str) -> str:
    """The carrier as the tables here spell it ("dhl paket" -> "DHL"); unknown names come back as given."""
    folded = " ".join(name.lower().replace("-", " ").split())
    if folded in _CARRIER_ALIASES:
        return _CARRIER_ALIASES[folded]
    for fmt in TRACKING_FORMATS:
        if fmt.carrier.lower() == folded:
            return fmt.carrier
    return name.strip()


def carrier_of(number: str) -> str | None:
    """The carrier whose specific format the whole number has, or None (unknown or only a digit run)."""
    compact = number.replace(" ", "").upper()
    for fmt in TRACKING_FORMATS:
        if fmt.specific and fmt.pattern.fullmatch(compact):
            return fmt.carrier
    return None


def is_tracking_number(number: str) -> bool:
    """Whether the number has the shape of some carrier's parcel number (specific or generic)."""
    compact = number.replace(" ", "").upper()
    return any(fmt.pattern.fullmatch(compact) for fmt in TRACKING_FORMATS)


_CARRIER_WORD = re.compile(
    r"\b(?:"
    + "|".join(
        sorted(
            {re.escape(f.carrier) for f in TRACKING_FORMATS if "(" not in f.carrier}
            | {re.escape(alias) for alias in _CARRIER_ALIASES},
            key=len,
            reverse=True,
        )
    )
    + r")\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def find_reference_spans(text: str) -> tuple[tuple[int, int], ...]:
    """[start, end) of the order ids and parcel numbers in ``text``.

    Specific formats count anywhere. A bare digit run of a generic parcel length (11, 12, 14, 15, 20
    or 28 digits) counts only after a carrier name or an id word ("tracking number", "Sendung", "colis"):
    written alone it may as well be a phone number without spaces, which the phone detector judges.
    """
    spans: set[tuple[int, int]] = set()
    for pattern in ORDER_ID_PATTERNS:
        spans.update(m.span() for m in pattern.finditer(text))
    for fmt in TRACKING_FORMATS:
        for match in fmt.pattern.finditer(text):
            if fmt.specific:
                spans.add(match.span())
                continue
            before = text[max(0, match.start() - 60) : match.start()]
            if pii.after_id_word(before) or _CARRIER_WORD.search(before):
                spans.add(match.span())
    return tuple(sorted(spans))
