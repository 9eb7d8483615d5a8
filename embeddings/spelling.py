"""Is a typed word a real word? wordfreq's frequency lists (shipped in its wheel).

Typo correction maps unknown query words onto the knowledge base's vocabulary; a real word of
the customer's language must stay as typed, or a question about a chair ("chaise") is read as one
about a chain, "necesito" as "necesitas" and "entkalken" as "enthält". pyspellchecker's lists,
used before, hold lemmas only: "hace", "necesito", "pido", "pastillas" were all unknown there, so
a third of the Spanish development queries were "corrected" into other words. wordfreq counts
inflected forms from web text in every language we serve.
"""

from __future__ import annotations

SUPPORTED = ("en", "fr", "de", "es", "it")
# Zipf 1 is once per 100 million words: a word wordfreq has seen at all in that language. Real
# but rare words ("entkalken" 1.8, "frostfest" 1.2) pass; typos are mostly absent (0). Common
# misspellings that are in the lists ("thier" 3.0) stay uncorrected, a loss the encoders absorb
# better than a real word turned into another one.
KNOWN_ZIPF = 1.0
# A typed word is read as a slip of a stop word one edit away only when it is rare itself (under
# once per million words) and that stop word at least 1000 times more frequent: "wher" (2.3) is
# "where" (6.0), while "Zara" (3.3) is no "para" and a Teekanne's "kanne" (3.4) no "kann".
STOPWORD_SLIP_MAX_ZIPF = 3.0
STOPWORD_SLIP_ZIPF_GAP = 3.0


def zipf(word: str, languages: list[str] | tuple[str, ...]) -> float:
    """The word's highest Zipf frequency among these languages (0 when no list knows it)."""
    from wordfreq import zipf_frequency

    known = [lang for lang in dict.fromkeys(languages) if lang in SUPPORTED]
    return max((zipf_frequency(word, lang) for lang in known), default=0.0)


def is_known(word: str, languages: list[str] | tuple[str, ...]) -> bool:
    return zipf(word, languages) >= KNOWN_ZIPF


def belongs_elsewhere(word: str, languages: list[str] | tuple[str, ...]) -> bool:
    """A word more frequent in a language other than these: a correction must not turn a Spanish
    query's word into a French one ("reparáis" -> "réparation")."""
    others = [lang for lang in SUPPORTED if lang not in languages]
    return zipf(word, others) > zipf(word, languages)


def warm() -> None:
    """Loads every language's list now (0.5 s for all five), off the request path."""
    for language in SUPPORTED:
        zipf("warm", [language])
