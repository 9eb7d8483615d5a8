"""Secrets that must never reach logs or stored drafts: card numbers, IBANs, passwords, API keys.

`redact(text)` is what other domains call before storing text a customer or agent wrote;
`install_log_redaction()` scrubs every log record of the process.
Cards and IBANs are found by core.pii, the same definition the compliance checker uses: checksums,
issuer prefixes and the words before a number, so order ids and tracking numbers, which drafts must
keep, are not mistaken for cards.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from core import pii

CARD_MASK = "[REDACTED:card]"
IBAN_MASK = "[REDACTED:iban]"
SECRET_MASK = "[REDACTED:secret]"
KEY_MASK = "[REDACTED:api_key]"

_SECRET = re.compile(
    r"(?i)\b(password|passwort|passwd|pwd|passcode|mot de passe|contrase[ñn]a|wachtwoord|kennwort|"
    r"pin|cvv|cvc|cvv2|security code|one[- ]time code|otp)"
    r"(\s*[:=]\s*|\s+(?:ist|is|est|es|was|war)\b\s*:?\s*)"
    r"(\"[^\"]{1,200}\"|'[^']{1,200}'|\S{1,200})"
)
_API_KEY = re.compile(r"\bdfk_[a-z]{3}_[A-Za-z0-9_\-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*")


def _mask_spans(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + mask + text[end:]
    return text


@dataclass(frozen=True)
class Redaction:
    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.found)


def redact_with_report(text: str) -> Redaction:
    """The redacted text and how many secrets of each kind were removed."""
    found: Counter[str] = Counter()

    def replace(
        kind: str, mask: str, check: Callable[[str], bool] | None = None
    ) -> Callable[[re.Match[str]], str]:
        def _sub(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return mask

        return _sub

    out = _API_KEY.sub(replace("api_key", KEY_MASK), text)
    out = _BEARER.sub(lambda m: (found.update(["api_key"]), f"{m.group(1)} {KEY_MASK}")[1], out)
    out = _SECRET.sub(lambda m: (found.update(["secret"]), f"{m.group(1)}{m.group(2)}{SECRET_MASK}")[1], out)
    cards = pii.find_card_spans(out)
    found["card"] += len(cards)
    out = _mask_spans(out, cards, CARD_MASK)
    ibans = pii.find_iban_spans(out)
    found["iban"] += len(ibans)
    out = _mask_spans(out, ibans, IBAN_MASK)
    found = +found  # drop kinds with no hit
    return Redaction(text=out, found=dict(found))


def redact(text: str) -> str:
    """Text safe to store or log: card numbers, IBANs, passwords and API keys replaced by markers."""
    if not text:
        return text
    return redact_with_report(text).text


# Credentials named in a URL's query string (`?token=...`); only log lines are scanned for these,
# since a customer's message may well say "key=" about something harmless.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:key|api[_-]?key|apikey|token|access[_-]?token|secret|signature|sig|auth)=)[^&#\s\"']+"
)


def redact_log_text(text: str) -> str:
    """`redact` for a log line, which may hold a URL: secrets hidden behind percent-encoding
    (`dfk%5Fadm%5F...`, `%64fk_...`) are found in the decoded text, and credential query parameters
    are masked whatever their value looks like."""
    out = _QUERY_SECRET.sub(lambda m: m.group(1) + SECRET_MASK, redact(text))
    decoded = out
    for _ in range(3):  # double- and triple-encoding
        step = unquote_plus(decoded)
        if step == decoded:
            break
        decoded = step
    if decoded != out:
        cleaned = _QUERY_SECRET.sub(lambda m: m.group(1) + SECRET_MASK, redact(decoded))
        if cleaned != decoded:
            return cleaned  # a secret was encoded: log the decoded, redacted form
    return out


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with secrets removed; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


def _scrub_arg(value: object) -> object:
    if isinstance(value, str):
        return redact_log_text(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value  # %d and %f need numbers; a number alone is checked in the formatted message
    text = str(value)
    cleaned = redact_log_text(text)
    return value if cleaned == text else cleaned


def scrub_record(record: logging.LogRecord) -> None:
    """Redacts a record in place, keeping the shape of its arguments.

    Formatters may rely on that shape: uvicorn's access formatter unpacks exactly five arguments
    (client, method, path, HTTP version, status), so each argument is redacted where it stands
    instead of the record being flattened into one pre-formatted message.
    """
    if getattr(record, "_deflect_redacted", False):
        return
    record._deflect_redacted = True
    args = record.args
    if not args:
        if isinstance(record.msg, str):
            record.msg = redact_log_text(record.msg)
    else:
        if isinstance(args, Mapping):
            record.args = {k: _scrub_arg(v) for k, v in args.items()}
        else:
            record.args = tuple(_scrub_arg(a) for a in args)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's own error to report, not ours
            message = None
        # A secret may form only where the format string meets an argument ("password: %s" % "hunter2").
        # Then the record is flattened, except for uvicorn's access lines, whose shape is fixed and whose
        # arguments (client, method, path, version, status) were each redacted above.
        if message is not None and not record.name.startswith("uvicorn.access"):
            cleaned = redact_log_text(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_log_text(record.exc_text)


_installed = False


def install_log_redaction() -> None:
    """Scrubs every record created in this process, whichever logger or handler it goes through.

    A record factory rather than a handler filter: filters on one handler miss handlers that
    libraries or test harnesses add later.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
