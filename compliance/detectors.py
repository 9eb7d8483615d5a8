"""One small detector per rule code: each returns the offending spans of a text.

Detectors work on the original text so spans index it exactly; where other numbers or
addresses could be mistaken for the thing sought, they are masked first (same length).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers

from compliance import lexicon as lx
from compliance.channels import RuleSet
from compliance.references import find_reference_spans
from compliance.schemas import RuleCode
from core import pii
from core.text import sentence_bounds, sentence_spans

_I = re.IGNORECASE


@dataclass(frozen=True)
class Finding:
    """A span that breaks a rule, with a short reason specific to this span."""

    start: int
    end: int
    reason: str


Detector = Callable[[str, RuleSet], list[Finding]]


def _mask(text: str, spans: Iterable[tuple[int, int]], char: str = "x") -> str:
    """Overwrite spans with a word character so later patterns neither match nor touch them."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = char * (end - start)
    return "".join(chars)


# --- e-mail ------------------------------------------------------------------------------

_TLDS_PLAIN = (
    r"com|net|org|info|biz|shop|store|online|site|io|co|me|eu|de|fr|es|it|nl|be|at|ch|uk|au|ca|us|mx|br|pl|se|"
    r"dk|no|fi|ie|pt|cz|jp|in|ru|example|email|mail|ai|app|dev|lu|gr|ro|hu|sk"
)
_TLDS = (
    r"com|net|org|info|biz|shop|store|online|site|website|link|click|io|co|me|ly|gl|gd|gy|to|app|dev|page|"
    r"eu|de|fr|es|it|nl|be|at|ch|uk|co\.uk|org\.uk|com\.au|com\.mx|com\.br|com\.be|co\.jp|au|ca|us|mx|br|pl|se|"
    r"dk|no|fi|ie|pt|cz|jp|cn|in|ru|tv|cc|ws|xyz|top|club|example|ai|ae|sa|sg|hk|nz|lu|gr|ro|hu|sk"
)
_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._%+\-]*"
_AT_STRONG = (
    r"\s*(?:@|＠|\(\s*(?:at|@|arobase|chiocciola|arroba|klammeraffe)\s*\)|"
    r"\[\s*(?:at|@|arobase|chiocciola|arroba|klammeraffe)\s*\]|"
    r"\{\s*(?:at|@)\s*\}|<\s*(?:at|@)\s*>)\s*|\s+(?:arobase|chiocciola|klammeraffe|arroba)\s+"
)
_AT_WEAK = r"\s+(?:at|chez|bei)\s+"
_DOT_STRONG = (
    r"(?:\s*(?:\(\s*(?:dot|punkt|point|punto)\s*\)|\[\s*(?:dot|punkt|point|punto|\.)\s*\]|\{\s*dot\s*\}|<\s*dot\s*>)\s*|"
    r"\s+(?:dot|punkt|point|punto)\s+)"
)
_DOT_ANY = rf"(?:\.|{_DOT_STRONG})"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_TLD_MAIL = r"[A-Za-z]{2,12}"

_EMAIL_STRONG = re.compile(
    rf"(?<![\w.+\-]){_LOCAL}(?:{_AT_STRONG}){_LABEL}(?:{_DOT_ANY}{_LABEL}){{0,6}}{_DOT_ANY}{_TLD_MAIL}(?![\w\-])",
    _I,
)
# A spelled-out "at" is only an address when the dot is obfuscated too, or the host is a
# well-known mailbox provider: "look at amazon.de" must stay a link, not an address.
_MAIL_PROVIDERS = (
    r"(?:gmail|googlemail|yahoo|ymail|hotmail|outlook|live|msn|icloud|me|aol|gmx|web|t-online|freenet|orange|"
    r"free|wanadoo|laposte|sfr|libero|virgilio|tiscali|alice|tim|telefonica|movistar|proton|protonmail|pm|"
    r"zoho|mail|yandex|btinternet|sky|virginmedia)"
)
_EMAIL_WEAK = re.compile(
    rf"(?<![\w.+\-]){_LOCAL}{_AT_WEAK}(?:{_LABEL}(?:{_DOT_ANY}{_LABEL}){{0,6}}{_DOT_STRONG}{_TLD_MAIL}|"
    rf"{_MAIL_PROVIDERS}(?:{_DOT_ANY}{_LABEL}){{0,6}}{_DOT_ANY}{_TLD_MAIL})(?![\w\-])",
    _I,
)


_OBFUSCATION_SEPARATOR = re.compile(
    r"\s*[\[({<]?\s*(?:at|dot|punkt|point|punto|arobase|chiocciola|arroba|klammeraffe|chez|bei|@|\.)\s*[\])}>]?\s*",
    _I,
)
_KNOWN_TLDS = re.compile(rf"(?:{_TLDS_PLAIN})", _I)


def _plausible_address(written: str) -> bool:
    """Reject prose that merely looks spelled out: "at this point it", "it at a point of sale"."""
    parts = [part.lower() for part in _OBFUSCATION_SEPARATOR.split(written) if part]
    if len(parts) < 2 or any(part in lx.FUNCTION_WORDS for part in parts[:-1]):
        return False
    return _KNOWN_TLDS.fullmatch(parts[-1]) is not None


def find_email_spans(text: str) -> list[tuple[int, int]]:
    spans = [
        m.span() for m in _EMAIL_STRONG.finditer(text) if "@" in m.group(0) or _plausible_address(m.group(0))
    ]
    spans += [
        m.span()
        for m in _EMAIL_WEAK.finditer(text)
        if _plausible_address(m.group(0)) and not _overlaps(m.span(), spans)
    ]
    return sorted(spans)


def detect_email_address(text: str, ruleset: RuleSet) -> list[Finding]:
    findings = []
    for start, end in find_email_spans(text):
        plain = "@" in text[start:end]
        reason = "e-mail address" if plain else "disguised e-mail address"
        findings.append(Finding(start, end, reason))
    return findings


# --- links -------------------------------------------------------------------------------

_SCHEME_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'\]\[{}|\\^`]+", _I)
_WWW_URL = re.compile(r"(?<![\w.\-/@])www\d?\.[^\s<>\"'\]\[{}|\\^`]+", _I)
# TLDs are matched in lower case only: "yesterday.It arrived" is a typo, not a domain.
_BARE_DOMAIN = re.compile(
    rf"(?<![\w.\-/@])(?:{_LABEL}\.){{0,6}}(?=[A-Za-z0-9\-]*[A-Za-z]){_LABEL}\.(?:{_TLDS})(?![\w\-])"
    r"(?:[/?#][^\s<>\"'\]\[{}|\\^`]*)?"
)
_OBFUSCATED_DOMAIN = re.compile(
    rf"(?<![\w.\-/@])(?:{_LABEL}{_DOT_STRONG}){{1,6}}(?:com|net|org|info|shop|store|eu|de|fr|it|co\s*(?:dot|\.)\s*uk|uk|"
    r"nl|be|at|ch|us|ca|io|ly)(?![\w\-])(?:/[^\s<>\"']*)?",
    _I,
)
_SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "rb.gy",
        "tiny.cc",
        "t.ly",
        "s.id",
        "v.gd",
        "lnkd.in",
        "shorte.st",
        "bl.ink",
    }
)
_TRACKING_HINT = re.compile(
    r"track|trace|suivi|suivre|sendung|verfolg|seguimiento|seguir|localiza|traccia|spedizion|colis|parcel|"
    r"package|paket|shipment|awb|envoi|env[ií]o|paquete|pacco|consegna|livraison|lieferung|entrega|delivery|"
    r"zustell|idship|piececode|tracknum",
    _I,
)
_TRAILING_PUNCT = ".,;:!?)»”’'\""


def _trim_url(text: str, start: int, end: int) -> int:
    """Drop sentence punctuation glued to the end of a link; keep balanced parentheses."""
    while end > start and text[end - 1] in _TRAILING_PUNCT:
        if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
            break
        end -= 1
    return end


def find_link_spans(text: str) -> list[tuple[int, int]]:
    """Every URL, www address, bare or disguised domain in ``text``, e-mail addresses excluded."""
    taken = find_email_spans(text)
    spans: list[tuple[int, int]] = []
    for pattern in (_SCHEME_URL, _WWW_URL, _BARE_DOMAIN, _OBFUSCATED_DOMAIN):
        for match in pattern.finditer(text):
            if pattern is _OBFUSCATED_DOMAIN and not _plausible_address(match.group(0).split("/")[0]):
                continue
            start, end = match.start(), _trim_url(text, *match.span())
            if end > start and not _overlaps((start, end), taken + spans):
                spans.append((start, end))
    return sorted(spans)


def link_host(link: str) -> str:
    """Host name of a link as written, with disguised dots restored."""
    host = re.sub(r"^(?:https?|ftp)://", "", link, flags=_I)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    host = re.sub(_DOT_STRONG, ".", host, flags=_I)
    host = host.lower().strip(".")
    return host[4:] if host.startswith("www.") else host


def detect_external_link(text: str, ruleset: RuleSet) -> list[Finding]:
    findings = []
    for start, end in find_link_spans(text):
        link = text[start:end]
        host = link_host(link)
        if ruleset.is_allowed_domain(host):
            continue
        if ruleset.is_carrier_domain(host):
            sent_start, sent_end = sentence_bounds(text, start, end)
            if _TRACKING_HINT.search(link) or _TRACKING_HINT.search(text[sent_start:sent_end]):
                continue
            findings.append(Finding(start, end, f"carrier link to {host} without a tracking purpose"))
            continue
        kind = "link shortener hiding its destination" if host in _SHORTENERS else f"link to {host}"
        findings.append(Finding(start, end, kind))
    return findings


# --- phone numbers -----------------------------------------------------------------------

# Grouped thousands ("1 299,00", "1,249.99") or a plain number; bounded so scans stay linear.
_AMOUNT = r"(?:\d{1,3}(?:[.,' \u00a0]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_NOT_PHONE_NUMERICS = [
    re.compile(p, _I)
    for p in (
        r"\b\d{16,}\b",  # long references
        r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6,}\b",  # 1Z.., JJD.., RR..GB, ASINs
        r"\b\d{4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{1,2}\b",  # ISO dates
        # day-first / month-first dates, but not the French "06.12.34.56.78"
        r"(?<!\d[./-])\b\d{1,2}\s?[./-]\s?\d{1,2}\s?[./-]\s?(?:\d{4}|\d{2})\b(?!\s?[./-]\s?\d)",
        r"\b\d{1,2}\s?(?::|h)\s?\d{2}\b",  # times
        rf"(?:[$€£¥]|\b(?:eur|usd|gbp|chf)\b)\s?{_AMOUNT}",  # prices with a leading currency
        rf"\b{_AMOUNT}\s?(?:[$€£¥%]|(?:eur|usd|gbp|chf|euros?|dollars?|pounds?|kg|g|cm|mm|m|ml|l)\b)",
        r"(?<!\d[.,])\b\d+[.,]\d{1,2}\b(?![.,]?\d)",  # amounts with decimals
    )
]
_PHONE_CONTEXT_EXACT = re.compile(lx.PHONE_CONTEXT_EXACT, _I)
# A stretch of digits with the separators phone numbers are written with ("+44 (0) 20 7946-0958").
_PHONE_WINDOW = re.compile(r"(?:\+|\(\s?\+?)?\d[\d \u00a0().\-/]{4,}\d")
# "00" + country code + 15 digits at most (ITU-T E.164), plus a "(0)" written inside.
_MAX_PHONE_DIGITS = 18
_LONG_DIGIT_RUN = re.compile(r"(?<![+\d])\b(?!00)\d{12,15}\b")


# Regions whose national formats the matcher tries for a number written without "+": the five reply
# languages' countries and the US (Walmart). An international "+"/"00" number is read in any of them.
PHONE_REGIONS: tuple[str, ...] = ("DE", "FR", "GB", "ES", "IT", "US")


def _phone_mask(text: str) -> str:
    spans = find_link_spans(text) + find_email_spans(text) + find_card_and_iban_spans(text)
    spans += [m.span() for m in _BANK_DETAILS.finditer(text)]
    spans += list(find_reference_spans(text))
    for pattern in _NOT_PHONE_NUMERICS:
        spans += [m.span() for m in pattern.finditer(text)]
    # A 12-15 digit run is a Walmart order number or a barcode, unless a phone word sits right before it.
    spans += [
        m.span()
        for m in _LONG_DIGIT_RUN.finditer(text)
        if not _PHONE_CONTEXT_EXACT.search(text[max(0, m.start() - 25) : m.start()])
    ]
    # "q", not "x": the matcher reads "x" after digits as an extension marker.
    return _mask(text, spans, char="q")


@lru_cache(maxsize=4096)
def _phone_spans(text: str) -> tuple[tuple[int, int], ...]:
    masked = _phone_mask(text)
    found: list[tuple[int, int, str]] = []
    # The matcher runs on each stretch of digits and separators that could be one number, not on the whole
    # text: a stretch with more digits than any phone number (a table, "1 1 1 ...") is no phone and is
    # skipped, which keeps a 20,000-character check fast.
    for window in _PHONE_WINDOW.finditer(masked):
        if sum(ch.isdigit() for ch in window.group(0)) > _MAX_PHONE_DIGITS:
            continue
        offset = max(0, window.start() - 1)
        piece = masked[offset : window.end() + 1]
        for region in PHONE_REGIONS:
            for match in phonenumbers.PhoneNumberMatcher(piece, region, leniency=phonenumbers.Leniency.VALID):
                found.append((offset + match.start, offset + match.end, match.raw_string))
    merged: list[tuple[int, int]] = []
    for start, end, raw in sorted(found, key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            continue
        before = text[max(0, start - 40) : start]
        international = raw.lstrip("( ").startswith(("+", "00"))
        # "order 0113 496 0321" names an id; "call 0113 496 0321" a phone; "+44 ..." is always a phone.
        if not international and pii.after_id_word(before) and not _PHONE_CONTEXT_EXACT.search(before):
            continue
        merged.append((start, end))
    return tuple(merged)


def find_phone_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of every phone number, found by libphonenumber's matcher (valid numbers only) on the
    text with links, addresses, cards, order and tracking numbers, dates, times and amounts masked."""
    return list(_phone_spans(text))


def detect_phone_number(text: str, ruleset: RuleSet) -> list[Finding]:
    return [Finding(start, end, "phone number") for start, end in find_phone_spans(text)]


# --- sensitive data ----------------------------------------------------------------------

_SECRET = re.compile(lx.SECRET_WORD + lx.SECRET_FILLER + lx.SECRET_LINK + r"(?P<value>[^\s\"'»“”,;]{3,})", _I)
# Domestic bank details and US social security numbers leak as much as an IBAN does.
_BANK_DETAILS = re.compile(
    r"\b(?:sort\s*code|bankleitzahl|blz|routing\s*(?:number|no\.?))\s*:?\s*"
    r"\d{2}[- ]?\d{2}[- ]?\d{2}(?:\d{3})?\b|"
    r"\b(?:account\s*(?:number|no\.?)|kontonummer|num[ée]ro\s+de\s+compte|n[uú]mero\s+de\s+cuenta|"
    r"numero\s+di\s+conto)\s*:?\s*\d[\d -]{6,16}\d\b|"
    r"\b(?:ssn|social\s+security\s+(?:number|no\.?))\s*:?\s*\d{3}-\d{2}-\d{4}\b",
    _I,
)
# Cards and IBANs: one definition with core.redact, so redaction and the checker agree.
find_card_and_iban_spans = pii.find_card_and_iban_spans


def detect_sensitive_data(text: str, ruleset: RuleSet) -> list[Finding]:
    findings = []
    for start, end in find_card_and_iban_spans(text):
        kind = "IBAN" if text[start].isalpha() else "full payment card number"
        findings.append(Finding(start, end, kind))
    for match in _BANK_DETAILS.finditer(text):
        findings.append(Finding(match.start(), match.end(), "bank account or identity number"))
    # Secrets are read with addresses masked: "saule-et-pin.fr" holds no PIN.
    prose = _mask(text, find_link_spans(text) + find_email_spans(text))
    for match in _SECRET.finditer(prose):
        value = match.group("value").rstrip(".!?…:")
        if not value or value.lower() in lx.SECRET_STOPWORDS:
            continue
        word = match.group(0)[: match.start("value") - match.start()].lower()
        if re.search(r"\b(?:cvv2?|cvc2?|security|sicherheit|seguridad|sicurezza|cryptogramme|pr[üu]f)", word):
            if not re.fullmatch(r"\d{3,4}", value):
                continue
        elif match.group("sep") is None and not (
            re.search(r"[\d\W_]", value)
            or (any(c.islower() for c in value) and any(c.isupper() for c in value[1:]))
        ):
            # "your password is required": an ordinary word after "is" is not a secret.
            continue
        findings.append(
            Finding(match.start(), match.start("value") + len(value), "password or security code")
        )
    # "the password you sent us, Harbor!2026x, ...": a password-shaped token near the word.
    password_word = _compiled(lx.PASSWORD_WORD)
    for sent_start, sentence in _sentences(text):
        if not password_word.search(sentence):
            continue
        for token in _PASSWORD_SHAPE.finditer(sentence):
            start, end = sent_start + token.start(), sent_start + token.end()
            end = _trim_url(text, start, end)
            if not _overlaps((start, end), [(f.start, f.end) for f in findings]) and _looks_like_password(
                text[start:end]
            ):
                findings.append(Finding(start, end, "password"))
    return sorted(findings, key=lambda f: f.start)


_PASSWORD_SHAPE = re.compile(r"(?<!\S)[^\s\"'«»“”„()]{6,40}")


def _looks_like_password(token: str) -> bool:
    if "@" in token or "://" in token or token.lower().startswith("www."):
        return False
    has_lower = any(c.islower() for c in token)
    has_upper = any(c.isupper() for c in token)
    has_digit = any(c.isdigit() for c in token)
    # Hyphens and slashes join ids and dates; other symbols are what passwords are made of.
    has_symbol = any(not c.isalnum() and c not in "-/.,:" for c in token)
    return has_digit and (has_lower or has_upper) and (has_symbol or (has_lower and has_upper))


# --- emoji -------------------------------------------------------------------------------

_EMOJI_BASE = (
    "[\U0001f000-\U0001faff\u2600-\u2712\u2714-\u2716\u2718-\u27bf\u231a\u231b\u2328\u23cf\u23e9-\u23f3"
    "\u23f8-\u23fa\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299\u25aa\u25ab\u25b6\u25c0"
    "\u25fb-\u25fe\u2934\u2935]"
)
_EMOJI_WITH_VS = "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u24c2]\ufe0f"
_EMOJI_MOD = "(?:\ufe0f|[\U0001f3fb-\U0001f3ff]|[\U000e0020-\U000e007f])*"
_EMOJI_UNIT = rf"(?:{_EMOJI_BASE}|{_EMOJI_WITH_VS}){_EMOJI_MOD}"
_EMOJI = re.compile(
    rf"(?:{_EMOJI_UNIT}(?:\u200d{_EMOJI_UNIT})*|[0-9#*]\ufe0f?\u20e3)"
    r"|(?<!\S)(?:[:;=][-'^o]?[)(\]\[DPpOo3|*]|<3|\^_\^|\^\^|[xX]D|:[a-z_]{2,30}:)(?=\s|$|[.,!?])"
)


def detect_emoji(text: str, ruleset: RuleSet) -> list[Finding]:
    return [Finding(m.start(), m.end(), "emoji or emoticon") for m in _EMOJI.finditer(text)]


# --- placeholders ------------------------------------------------------------------------

_PLACEHOLDER_WORD = re.compile(rf"\b{lx.PLACEHOLDER_WORDS}\b", _I)
# German compounds (Kundenname, Bestellnummer) end in a placeholder word without a boundary.
_PLACEHOLDER_STEM = re.compile(r"(?:name|nummer|datum|betrag|adresse)\b", _I)
_PLACEHOLDERS = re.compile(
    r"\{\{[^{}\n]{0,80}\}\}|\{%[^%\n]{0,80}%\}|\$\{[^{}\n]{1,60}\}|"
    r"(?<![\w{$])\{\s*[A-Za-z_][\w.\- ]{0,40}\}|"
    r"(?<![\w%])%[A-Za-z_][A-Za-z0-9_]*%(?![\w%])|"
    r"(?<![\w$])\$(?:[A-Z][A-Z0-9_]{2,}|[a-z_][a-z0-9_]{2,})\b|\*\|[A-Z0-9_:]+\|\*|"
    r"\b[A-Z]{2,}(?:_[A-Z]+)+\b|\b[Xx]{2,}(?:[-/][Xx]{2,})+\b|\bX{3,}\b|#{3,}|_{3,}|(?<!\S)\?{3,}(?!\S)|\b(?:TBD|TODO|FIXME)\b"
)
_BRACKETED = re.compile(r"\[\s*([^\[\]\n]{2,50}?)\s*\](?!\()|<\s*([A-Za-z_][\w \-]{1,40}?)\s*>")


def _is_placeholder_label(label: str, angle: bool) -> bool:
    if any(char.isdigit() for char in label):
        return False
    if angle:
        # <tracking number>, <Kundenname>: in a reply, angle brackets hold a tag or a placeholder.
        return label.strip().lower() not in lx.HTML_TAGS
    letters = [char for char in label if char.isalpha()]
    all_caps = len(letters) >= 2 and all(char.isupper() for char in letters)
    return (
        all_caps or "_" in label or bool(_PLACEHOLDER_WORD.search(label) or _PLACEHOLDER_STEM.search(label))
    )


def detect_unfilled_placeholder(text: str, ruleset: RuleSet) -> list[Finding]:
    findings = [Finding(m.start(), m.end(), "template variable") for m in _PLACEHOLDERS.finditer(text)]
    for match in _BRACKETED.finditer(text):
        label = match.group(1) or match.group(2)
        if _is_placeholder_label(label, angle=match.group(2) is not None) and not _overlaps(
            match.span(), [(f.start, f.end) for f in findings]
        ):
            findings.append(Finding(match.start(), match.end(), "template variable"))
    return sorted(findings, key=lambda f: f.start)


# --- review manipulation, promotion, off-platform (phrase rules) -------------------------


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


def detect_review_manipulation(text: str, ruleset: RuleSet) -> list[Finding]:
    findings: list[Finding] = []

    def add(start: int, end: int, reason: str) -> None:
        if not _overlaps((start, end), [(f.start, f.end) for f in findings]):
            findings.append(Finding(start, end, reason))

    for match in _compiled(lx.CHANGE_REVIEW).finditer(text):
        add(*match.span(), "asks the buyer to change or remove a review")
    # Outside a thank-you, naming a top-rated review is itself the request ("a 5-star review would...").
    for pattern, reason, stars in (
        (lx.STAR_RATING, "asks for a top rating", True),
        (lx.POSITIVE_REVIEW, "asks for a positive review", False),
    ):
        for match in _compiled(pattern).finditer(text):
            if _overlaps(match.span(), [(f.start, f.end) for f in findings]):
                continue
            sent_start, sent_end = sentence_bounds(text, match.start(), match.end())
            sentence = text[sent_start:sent_end]
            # Windows before a match are bounded so that one huge sentence stays linear.
            if _compiled(lx.THANKS_FOR).search(text[max(sent_start, match.start() - 80) : match.start()]):
                continue
            if (
                (stars and _compiled(lx.RATING_NOUN).search(sentence))
                or _compiled(lx.REQUEST_CUE).search(sentence)
                or _compiled(lx.EXCHANGE).search(sentence)
            ):
                add(sent_start + _lstrip_offset(sentence), sent_end, reason)
    for match in _compiled(lx.NEGATIVE_REVIEW).finditer(text):
        sent_start, sent_end = sentence_bounds(text, match.start(), match.end())
        if _compiled(lx.NEGATIVE_STEER).search(text[max(sent_start, match.start() - 120) : match.start()]):
            add(
                sent_start + _lstrip_offset(text[sent_start:sent_end]),
                sent_end,
                "steers the buyer away from negative feedback",
            )
    review_noun = _compiled(rf"\b{lx.REVIEW_NOUN}\b")
    for match in _compiled(lx.CHANGE_PRONOUN).finditer(text):
        window = text[max(0, match.start() - 200) : match.start()]
        if review_noun.search(window):
            sent_start, sent_end = sentence_bounds(text, match.start(), match.end())
            add(
                sent_start + _lstrip_offset(text[sent_start:sent_end]),
                sent_end,
                "asks the buyer to change a review",
            )
    previous = ""
    for sent_start, sentence in _sentences(text):
        if review_noun.search(sentence):
            if _compiled(lx.INCENTIVE).search(sentence) and _compiled(lx.EXCHANGE).search(sentence):
                add(sent_start, sent_start + len(sentence), "offers something in exchange for a review")
            elif _compiled(lx.REQUEST_CUE).search(sentence) and (
                _compiled(lx.SATISFIED_IF).search(sentence) or _compiled(lx.SATISFIED_IF).search(previous)
            ):
                # "Happy with your lamp? Leave us a review!" asks satisfied buyers only.
                add(sent_start, sent_start + len(sentence), "asks only satisfied buyers for a review")
        previous = sentence
    return sorted(findings, key=lambda f: f.start)


def detect_promotion(text: str, ruleset: RuleSet) -> list[Finding]:
    findings = [
        Finding(m.start(), m.end(), "promotional content") for m in _compiled(lx.PROMOTION).finditer(text)
    ]
    taken = [(f.start, f.end) for f in findings]
    for match in _compiled(lx.PROMOTION_WEAK).finditer(text):
        sent_start, sent_end = sentence_bounds(text, match.start(), match.end())
        sentence = text[sent_start:sent_end]
        # "we cannot offer a discount" refuses one; it does not promote anything.
        if _compiled(lx.NEGATION).search(text[sent_start : match.start()]):
            continue
        if not _overlaps(match.span(), taken) and _compiled(lx.OFFER_CUE).search(sentence):
            findings.append(Finding(match.start(), match.end(), "offers a discount or promotion"))
    return sorted(findings, key=lambda f: f.start)


_CONTACT_VERB = re.compile(
    r"contact|reach|touch|mail|write|kontakt|cont[aá]ct|contatt|[ée]cri|schreib|escr|scriv", _I
)


def detect_off_platform(text: str, ruleset: RuleSet) -> list[Finding]:
    on_platform = _compiled(lx.ON_PLATFORM)
    shop_cue = _compiled(lx.SHOP_CUE)
    # Cues are read with addresses masked: "shop.example" names a site, it is not an offer to buy.
    prose = _mask(text, find_link_spans(text) + find_email_spans(text))
    findings: list[Finding] = []
    for match in _compiled(lx.OFF_PLATFORM).finditer(text):
        # "contact us directly through Buyer-Seller Messaging" keeps the buyer on the platform.
        if _CONTACT_VERB.search(match.group(0)) and on_platform.search(text[match.end() : match.end() + 60]):
            continue
        findings.append(
            Finding(match.start(), match.end(), "moves the conversation or sale off the platform")
        )
    for match in _compiled(lx.OWN_SITE).finditer(text):
        sent_start, sent_end = sentence_bounds(text, match.start(), match.end())
        if shop_cue.search(prose[sent_start:sent_end]):
            findings.append(
                Finding(match.start(), match.end(), "sends the buyer to the seller's own website")
            )
    # An e-mail address or phone number in a marketplace message is an invitation to use it;
    # a link is a diversion when the buyer is sent there to buy.
    contacts = [(span, "gives a contact channel outside the platform") for span in find_email_spans(text)]
    contacts += [(span, "gives a contact channel outside the platform") for span in find_phone_spans(text)]
    contacts += [
        ((f.start, f.end), "sends the buyer to buy outside the platform")
        for f in detect_external_link(text, ruleset)
        if shop_cue.search(prose[slice(*sentence_bounds(text, f.start, f.end))])
    ]
    for (start, end), reason in contacts:
        sentence = sentence_bounds(text, start, end)
        if not _overlaps(sentence, [(f.start, f.end) for f in findings]):
            findings.append(Finding(start, end, reason))
    return sorted(findings, key=lambda f: f.start)


# --- helpers -----------------------------------------------------------------------------


def _overlaps(span: tuple[int, int], others: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _lstrip_offset(sentence: str) -> int:
    return len(sentence) - len(sentence.lstrip())


def _sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of the one sentence splitter (core.text)."""
    return [(start, text[start:end]) for start, end in sentence_spans(text)]


DETECTORS: dict[RuleCode, Detector] = {
    "external_link": detect_external_link,
    "email_address": detect_email_address,
    "phone_number": detect_phone_number,
    "promotion": detect_promotion,
    "review_manipulation": detect_review_manipulation,
    "off_platform": detect_off_platform,
    "emoji": detect_emoji,
    "sensitive_data": detect_sensitive_data,
    "unfilled_placeholder": detect_unfilled_placeholder,
}
