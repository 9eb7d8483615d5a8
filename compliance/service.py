"""Check a reply against a channel's messaging rules and apply the safe fixes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from compliance.channels import RuleSet, get_ruleset
from compliance.detectors import DETECTORS
from compliance.schemas import ComplianceResult, RuleCode, Violation

# Only these fixes cannot change what the reply means: the emoji, link or contact detail
# goes, the sentence stays. Everything else needs an agent's judgement.
_FIXABLE: frozenset[RuleCode] = frozenset({"emoji", "external_link", "email_address", "phone_number"})

_LANGUAGE_HINTS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and you your to is we for of with please order have this hi hello thanks it be".split()
    ),
    "fr": frozenset(
        "le les et vous votre vos nous est pour une des avec commande bonjour merci au aux ce cette sur être "
        "nous avons été".split()
    ),
    "de": frozenset(
        "der die das und sie ihre ihr ihnen wir ist für mit bestellung nicht bitte ein eine hallo uns "
        "dem den gerne vielen dank auf".split()
    ),
    "es": frozenset(
        "el los las y usted su sus nosotros es para con pedido gracias una por hola lo al te tu que si del "
        "en está puede puedes le nos".split()
    ),
    "it": frozenset(
        "il lo gli e lei suo sua noi è per con ordine grazie una del della ciao gentile di che ti ci non un "
        "qualsiasi sono stato ha".split()
    ),
}
_LINK_LEAD = re.compile(
    r"(?:\s*[:\-–,]\s*|\s+(?:at|on|via|under|à|sur|sous|unter|auf|bei|en|su|in|a|an|presso|al|vía)\s+)$",
    re.IGNORECASE,
)
_CONTACT_LEAD = re.compile(
    r"\s*(?:\b(?:at|to|on|under|via|à|au|sur|chez|an|unter|bei|per|a|al|en|su|allo|alla|presso)\b)?\s*:?\s*$",
    re.IGNORECASE,
)


def detect_locale(text: str) -> str:
    """Best guess among en/fr/de/es/it from common function words; English when unsure."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {lang: sum(word in hints for word in words) for lang, hints in _LANGUAGE_HINTS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > scores["en"] else "en"


def _resolve_locale(text: str, locale: str | None) -> str:
    if locale:
        primary = locale.split("-")[0].lower()
        if primary in _LANGUAGE_HINTS:
            return primary
    return detect_locale(text)


def protected_spans(text: str, facts: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) of every occurrence of each fact value (order id, tracking number, amount...) in text."""
    spans: list[tuple[int, int]] = []
    for value in {f.strip() for f in facts if len(f.strip()) >= 3}:
        start = text.find(value)
        while start != -1:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    return sorted(spans)


def _inside(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def find_violations(text: str, ruleset: RuleSet, *, facts: Sequence[str] = ()) -> list[Violation]:
    """Every violation of the channel's enabled rules, ordered by position.

    ``facts`` are values the reply quotes from the order data (ids, tracking numbers, amounts): a finding
    that lies inside one is the fact itself, not a phone number or a card, and is not reported.
    """
    protected = protected_spans(text, facts)
    violations = []
    for rule, config in ruleset.rules.items():
        fixable = rule in _FIXABLE and (
            rule not in ("email_address", "phone_number") or bool(ruleset.contact_wording)
        )
        for finding in DETECTORS[rule](text, ruleset):
            if protected and _inside((finding.start, finding.end), protected):
                continue
            violations.append(
                Violation(
                    rule=rule,
                    start=finding.start,
                    end=finding.end,
                    text=text[finding.start : finding.end],
                    explanation=f"{config.explanation} Found: {finding.reason}.",
                    severity=config.severity,
                    blocking=config.blocking,
                    fixable=fixable,
                )
            )
    return sorted(violations, key=lambda v: (v.start, v.end, v.rule))


def _splice(text: str, start: int, end: int, replacement: str) -> str:
    left, right = text[:start], text[end:]
    if not replacement:
        if left.endswith("(") and right.startswith(")"):
            left, right = left[:-1], right[1:]
        if left.endswith((" ", "\t")) and (not right or right[0].isspace() or right[0] in ".,;:!?)"):
            left = left.rstrip(" \t")
        elif not left and right.startswith(" "):
            right = right.lstrip(" ")
    return left + replacement + right


def apply_fixes(
    text: str, violations: list[Violation], ruleset: RuleSet, locale: str, *, facts: Sequence[str] = ()
) -> str:
    """Apply every fixable violation's safe fix, right to left so earlier spans stay valid.

    A fix that would cut into one of ``facts`` is not applied: the violation stays for an agent.
    """
    protected = protected_spans(text, facts)
    fixed = text
    next_start = len(text) + 1
    for violation in sorted((v for v in violations if v.fixable), key=lambda v: v.start, reverse=True):
        if violation.end > next_start:
            continue  # overlaps a fix already applied to its right
        start, end = violation.start, violation.end
        if violation.rule in ("email_address", "phone_number"):
            lead = _CONTACT_LEAD.search(fixed[:start])
            start = lead.start() if lead else start
            separator = " " if start > 0 else ""
            replacement = separator + ruleset.wording_for(locale)
        elif violation.rule == "external_link":
            lead = _LINK_LEAD.search(fixed[:start])
            start = lead.start() if lead else start
            replacement = ""
        else:
            replacement = ""
        if _overlaps((start, end), protected):
            continue
        fixed = _splice(fixed, start, end, replacement)
        next_start = start
    return fixed


def check(
    text: str, *, channel: str, locale: str | None = None, facts: Sequence[str] = ()
) -> ComplianceResult:
    """Check ``text`` against ``channel``'s rules; unknown channels raise InvalidInputError.

    ``facts``: values from the order data the reply must keep verbatim (see find_violations, apply_fixes).
    """
    ruleset = get_ruleset(channel)
    resolved_locale = _resolve_locale(text, locale)
    violations = find_violations(text, ruleset, facts=facts)
    fixed_text = apply_fixes(text, violations, ruleset, resolved_locale, facts=facts) if violations else text
    remaining = find_violations(fixed_text, ruleset, facts=facts) if fixed_text != text else violations
    return ComplianceResult(
        channel=ruleset.channel,
        ruleset_version=ruleset.version,
        locale=resolved_locale,
        passed=not violations,
        blocking=any(v.blocking for v in remaining),
        violations=violations,
        fixed_text=fixed_text,
        remaining_violations=remaining,
    )
