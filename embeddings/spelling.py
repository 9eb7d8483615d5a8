"""Is a typed word a real word? pyspellchecker's word-frequency lists (shipped in its wheel).

Typo correction maps unknown query words onto the knowledge base's vocabulary; a real word of
the customer's language ("chaise", "bitcoin" is not one) must stay as typed, or a question
about a chair would be read as one about a chain.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_dictionaries: dict[str, Any] = {}
SUPPORTED = ("en", "fr", "de", "es", "it")


def _dictionary(language: str) -> Any | None:
    if language not in SUPPORTED:
        return None
    with _lock:
        found = _dictionaries.get(language)
        if found is None:
            from spellchecker import SpellChecker

            found = _dictionaries[language] = SpellChecker(language=language, distance=1)
        return found


def warm() -> None:
    """Loads every language's word list now (0.3-0.4 s each), off the request path."""
    for language in SUPPORTED:
        _dictionary(language)


def known_words(words: list[str], languages: list[str]) -> frozenset[str]:
    """The words that are real words in any of these languages."""
    known: set[str] = set()
    for language in dict.fromkeys(languages):
        dictionary = _dictionary(language)
        if dictionary is not None:
            known |= {w for w in words if w in dictionary}
    return frozenset(known)
