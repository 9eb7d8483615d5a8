"""No invented facts: every number, id, date and carrier in a reply must appear in a source it cites."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from replies.facts import MONTHS
from replies.segmentation import fold

# Carriers a reply might name; a carrier is a fact like a number (naming the wrong one misleads).
CARRIERS = (
    "dhl",
    "ups",
    "fedex",
    "usps",
    "dpd",
    "gls",
    "hermes",
    "evri",
    "royal mail",
    "parcelforce",
    "la poste",
    "colissimo",
    "chronopost",
    "mondial relay",
    "correos",
    "seur",
    "mrw",
    "nacex",
    "poste italiane",
    "brt",
    "sda",
    "postnl",
    "bpost",
    "deutsche post",
    "amazon logistics",
    "ontrac",
    "lasership",
    "canada post",
    "purolator",
    "tnt",
    "australia post",
    "yodel",
    "inpost",
)
_CARRIER = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in CARRIERS) + r")\b")
_MONTH_NAMES = {fold(name): index for names in MONTHS.values() for index, name in enumerate(names, start=1)}
# Only a month next to a day counts: Italian "mai" (never) is not May.
_MONTH = re.compile(
    r"\b\d{1,2}\.?\s+(?:de\s+)?("
    + "|".join(re.escape(m) for m in sorted(_MONTH_NAMES, key=len, reverse=True))
    + r")\b"
)
# A token with at least one digit: amounts (19.99, 19,99), ids (113-4455667-1234567, #1001, R-88), dates,
# times.
_NUMERIC = re.compile(r"[#A-Za-z0-9][#A-Za-z0-9\-./:,]*")
_EDGE = ".,:;/-"


@dataclass(frozen=True)
class FactCheck:
    passed: bool
    checked: int
    unsupported: list[str]


def fact_tokens(text: str) -> set[str]:
    """The checkable facts of a text, normalised: numeric tokens, carriers, month names."""
    folded = fold(text)
    tokens: set[str] = set()
    for match in _NUMERIC.finditer(folded):
        token = match.group(0).strip(_EDGE)
        if any(ch.isdigit() for ch in token):
            # "19,99" and "19.99" are the same amount.
            tokens.add(token.replace(",", "."))
    tokens.update(f"carrier:{m.group(0)}" for m in _CARRIER.finditer(folded))
    tokens.update(f"month:{_MONTH_NAMES[m.group(1)]}" for m in _MONTH.finditer(folded))
    return tokens


def check_facts(reply: str, sources: Iterable[str]) -> FactCheck:
    """Every fact token of the reply must be a fact token of one of the sources."""
    allowed: set[str] = set()
    for source in sources:
        allowed |= fact_tokens(source)
    claimed = fact_tokens(reply)
    unsupported = sorted(claimed - allowed)
    return FactCheck(passed=not unsupported, checked=len(claimed), unsupported=unsupported)


def kept_facts(original: str, rewritten: str) -> list[str]:
    """Facts of the original reply that a rewrite dropped (empty = every fact kept)."""
    after = fact_tokens(rewritten)
    return sorted(fact_tokens(original) - after)
