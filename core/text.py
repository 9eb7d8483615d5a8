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
    mail = EmailMessage(text=_without_quotes_above(body), languages=list(languages), keep_hyphen_lists=True)
    read = mail.read()
    return read.replies[0].body.strip() if read.replies else ""


_QUOTED_LINE = re.compile(r"^\s*>")


def _without_quotes_above(body: str) -> str:
    """A customer who answers below the quoted earlier message ("> Il 10 nov. ha scritto: ..." then the
    new text) wrote the lines after it: mail-parser-reply reads everything after the first quote as the
    old mail and kept only "Salve,". When unquoted text follows a quoted block, the quoted lines and the
    header just above them ("On ... wrote:") are what is dropped instead. A body quoted at its end only is
    left to the parser."""
    lines = body.splitlines()
    quoted = [bool(_QUOTED_LINE.match(line)) for line in lines]
    last_quoted = max((i for i, q in enumerate(quoted) if q), default=-1)
    if last_quoted < 0 or not any(line.strip() for line in lines[last_quoted + 1 :]):
        return body
    kept = [
        line
        for i, line in enumerate(lines)
        if not quoted[i] and not (line.rstrip().endswith(":") and i + 1 < len(lines) and quoted[i + 1])
    ]
    return "\n".join(kept)
