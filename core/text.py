"""The one sentence splitter: the compliance checker, the question splitter and the article panel use it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from mailparser_reply import EmailMessage

# A sentence runs to ".", "!" or "?" followed by white space, or to a line break. A full stop inside
# "10.50", "shop.com" or "v1.2" is not followed by white space and ends nothing; an inner "¿" after a
# comma ("Quiero devolverla, ¿cómo lo hago?") opens a clause, not a sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*")


# A full stop after an abbreviation, a title or an initial ends no sentence ("seit ca. 3 Jahren", "(bzw. mein
# Mann)", "Bonjour M. Dupont"); after a number or a month's short name only when the same line goes on with a
# small letter, a digit or a month ("ob ihr am 24.12. offen habt", "am 3. Dezember", "le 28 nov. 2026").
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:ca|bzw|ggf|evtl|inkl|zzgl|vgl|tel|nr|mr|mrs|ms|dr|prof|mme|mlle|sr|sra|srta|sig|sig\.ra|dott|"
    r"z\.\s?b|d\.\s?h|u\.\s?a|e\.g|i\.e|p\.\s?ej|p\.\s?ex|approx|aprox|env|str|[A-Z])\.$",
    re.IGNORECASE,
)
# Short names of months in the five languages; a month's full name starts with one of them.
_MONTH = (
    r"jan|feb|mar|mär|apr|may|mai|jun|jul|aug|sep|sept|oct|okt|nov|dec|dez|déc|janv|févr|fév|avr|juil|août|"
    r"ene|abr|ago|dic|gen|mag|giu|lug|set|ott"
)
_NUMBER_OR_MONTH = re.compile(
    rf"(?:^|[\s(])(?:\d{{1,2}}(?:\.\d{{1,2}})?|no|nº|núm|num|{_MONTH})\.$", re.IGNORECASE
)
_STARTS_WITH_MONTH = re.compile(rf"(?:{_MONTH})", re.IGNORECASE)


def _continues(text: str, end: int, next_start: int) -> bool:
    """Whether the full stop that ends ``text[:end]`` is an abbreviation's, and the next piece goes on."""
    if "\n" in text[end:next_start]:
        return False
    before = text[max(0, end - 12) : end]
    # Initials and titles are matched as written ("M.", "K."); the short words case-insensitively.
    if _ABBREVIATION.search(before) and (len(before.split()[-1]) > 2 or before[-2].isupper()):
        return True
    following = text[next_start : next_start + 12]
    if not _NUMBER_OR_MONTH.search(before):
        return False
    first = following[:1]
    return first.islower() or first.isdigit() or _STARTS_WITH_MONTH.match(following) is not None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence of ``text``, surrounding white space left out, empty ones dropped."""
    return list(_sentence_spans(text))


@lru_cache(maxsize=4096)
def _sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text):
        raw = match.group(0)
        stripped = raw.strip()
        if stripped:
            start = match.start() + raw.index(stripped)
            if spans and _continues(text, spans[-1][1], start):
                spans[-1] = (spans[-1][0], start + len(stripped))
            else:
                spans.append((start, start + len(stripped)))
    return tuple(spans)


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) of the sentence(s) that hold ``text[start:end]``."""
    spans = _sentence_spans(text)
    left = next((s for s, e in reversed(spans) if s <= start), 0)
    right = next((e for s, e in spans if e >= end), len(text))
    return left, max(right, end)


# Reply headers ("On ... wrote:", "Am ... schrieb ...:") and sign-offs of these languages end a customer's
# new text: the shop's five languages and those its customers' mail clients commonly write in.
REPLY_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "sv")


def newest_reply(body: str, languages: Sequence[str] = REPLY_LANGUAGES) -> str:
    """The newest reply in a mail body per mail-parser-reply ('' when it finds none): quoted earlier
    messages, signatures and disclaimers in these languages removed.

    Its default signature rule cuts everything from the first line that starts with "- ", so a
    customer's hyphen list ("- the lamp / - the shade") lost every question after it; only a "--"
    signature delimiter ends the text here.
    """
    newest = _parse_reply(body, languages)
    below = _first_line_below_quotes(body)
    if below is None:
        return _without_trailing_quote(newest)
    if below in newest:
        return newest
    # A customer who answers below the quoted earlier message ("> Il 10 nov. ha scritto: ..." then the new
    # text) wrote the lines after it, and mail-parser-reply read everything from that header on as the
    # old mail ("Salve," was all that was left). Without the header the quote stays in as context, as the
    # parser keeps a quote with no header ("Vous m'aviez répondu ceci : > le remboursement ..."), which
    # tells what "je ne vois toujours rien" is about; failing that, without the quoted lines at all.
    for variant in (_without_quote_headers(body), _without_quotes(body)):
        candidate = _parse_reply(variant, languages)
        if below in candidate:
            return candidate
    return newest


def _parse_reply(body: str, languages: Sequence[str]) -> str:
    mail = EmailMessage(text=body, languages=list(languages), keep_hyphen_lists=True).read()
    return mail.replies[0].body.strip() if mail.replies else ""


_QUOTED_LINE = re.compile(r"^\s*>")


def _is_quoted(line: str) -> bool:
    return bool(_QUOTED_LINE.match(line))


def _first_line_below_quotes(body: str) -> str | None:
    """The customer's first line after the last quoted one (None: nothing is written below a quote)."""
    lines = body.splitlines()
    last = max((i for i, line in enumerate(lines) if _is_quoted(line)), default=-1)
    if last < 0:
        return None
    return next((line.strip() for line in lines[last + 1 :] if line.strip()), None)


def _is_quote_header(lines: list[str], index: int) -> bool:
    """ "On ... wrote:" just above a quote, or as its first quoted line."""
    line = lines[index]
    if not line.rstrip().endswith(":"):
        return False
    opens = _is_quoted(line) and (index == 0 or not _is_quoted(lines[index - 1]))
    above = not _is_quoted(line) and index + 1 < len(lines) and _is_quoted(lines[index + 1])
    return opens or above


def _without_quote_headers(body: str) -> str:
    lines = body.splitlines()
    return "\n".join(line for i, line in enumerate(lines) if not _is_quote_header(lines, i))


def _without_trailing_quote(text: str) -> str:
    """The text without the quoted block that ends it, and that block's "On ... wrote:" header.

    mail-parser-reply misses some headers ("> El 28 nov. 2026, Shop escribió:"); the quoted seller's
    mail below the customer's text then read as the customer's own questions ("> the substrate is out of
    stock" became a damaged-item question). A quote with the customer's text below it is context and
    stays (see ``newest_reply``)."""
    lines = text.splitlines()
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and _is_quoted(lines[start - 1]):
        start -= 1
    if start == end:
        return text
    if start and _is_quote_header(lines, start - 1):
        start -= 1
    return "\n".join(lines[:start]).strip()


def _without_quotes(body: str) -> str:
    lines = body.splitlines()
    return "\n".join(
        line for i, line in enumerate(lines) if not _is_quoted(line) and not _is_quote_header(lines, i)
    )
