"""The shopper pages' and the widget's languages: Babel message catalogs, dates and language negotiation.

One catalog per language under api/locales/<lang>/LC_MESSAGES/messages.po, English being the msgids
themselves. The templates translate through it, and the same catalog reaches the browser as JSON: the
pages embed it, the widget on a seller's site fetches it from /i18n/<lang>.json.

Update after changing a message (babel.cfg lists the sources):
    pybabel extract -F babel.cfg --no-location -o api/locales/messages.pot .
    pybabel update -i api/locales/messages.pot -d api/locales --no-fuzzy-matching
tests/web/test_i18n_catalogs.py fails while a message is missing or untranslated.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "it": "Italiano"}
DEFAULT_LANG = "en"
# gettext's separator between a message's context and its id, as in compiled catalogs.
CONTEXT_SEP = "\x04"

# Brand names: the same in every language.
CHANNEL_LABELS = {
    "amazon": "Amazon",
    "ebay": "eBay",
    "walmart": "Walmart",
    "shopify": "Shopify",
    "web": "Web",
    "email": "Email",
}


@cache
def catalog(lang: str) -> Catalog | None:
    """The language's .po catalog; None for English, whose messages are the ids themselves."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT_LANG or not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


@cache
def translations(lang: str) -> NullTranslations:
    """gettext translations for `lang`, compiled in memory from its .po (no build step, no .mo in git)."""
    source = catalog(lang)
    if source is None:
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, source, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@cache
def browser_messages(lang: str) -> dict[str, Any]:
    """The catalog as the browser's scripts read it: {"[context\\x04]msgid": msgstr or [singular, plural]}."""
    source = catalog(lang)
    messages: dict[str, Any] = {}
    if source is None:
        return messages
    for message in source:
        if not message.id or message.fuzzy or not message.string:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
        key = f"{message.context}{CONTEXT_SEP}{msgid}" if message.context else msgid
        if isinstance(message.string, tuple | list):
            if all(message.string):
                messages[key] = list(message.string)
        else:
            messages[key] = message.string
    return messages


class PageText:
    """What a template needs in one language: `_`, `ngettext`, `pgettext` (placeholders are `{name}`)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = translations(lang)

    def gettext(self, message: str, **params: Any) -> str:
        text = str(self._t.gettext(message))
        return text.format(**params) if params else text

    def pgettext(self, context: str, message: str, **params: Any) -> str:
        text = str(self._t.pgettext(context, message))
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return str(self._t.ngettext(singular, plural, n)).format(n=n, **params)

    def long_date(self, at: date | datetime) -> str:
        return format_date(at, format="long", locale=Locale.parse(self.lang))

    def context(self) -> dict[str, Any]:
        """Names the templates use; `gettext`/`_` etc. are also the names pybabel extracts."""
        return {
            "_": self.gettext,
            "gettext": self.gettext,
            "pgettext": self.pgettext,
            "ngettext": self.ngettext,
            "long_date": self.long_date,
            "channel_label": channel_label,
            "lang": self.lang,
        }


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel) or str(channel)


def pick_lang(requested: str | None, accept_language: str | None) -> str:
    """The page language: an explicit ?lang= or ?locale=, then the browser's preference, else English."""
    available = list(LANGUAGES)
    preferred = ([requested] if requested else []) + _preferred(accept_language or "")
    for candidate in preferred:
        found = negotiate_locale([candidate.replace("_", "-")], available, sep="-")
        if found:
            return found.lower()
    return DEFAULT_LANG


def _preferred(header: str) -> list[str]:
    """Accept-Language tags, most preferred first (q=0 means 'not this one').

    Babel negotiates between lists of locales but does not parse the header; these few lines do.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]
