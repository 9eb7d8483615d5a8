"""BM25 keyword index (bm25s) with per-language analysis and typo correction against the corpus.

Two analyses:
- "plain": lower-cased words minus one stop-word list for all five languages (the original one,
  still used by the tickets collection);
- "stemmed": each text through its own language's stop words and Snowball stemmer (PyStemmer),
  accents folded after stemming, so "arrivée"/"arrivé"/"arrivee" and "parcels"/"parcel" meet.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import bm25s
import numpy as np
from bm25s import stopwords as bm25_stopwords
from rapidfuzz import process
from rapidfuzz.distance import OSA

from embeddings import spelling

# bm25s forces its logger to DEBUG on import, which would log every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

Analysis = Literal["plain", "stemmed"]

_STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset(bm25_stopwords.STOPWORDS_EN),
    "fr": frozenset(bm25_stopwords.STOPWORDS_FRENCH),
    "de": frozenset(bm25_stopwords.STOPWORDS_GERMAN),
    "es": frozenset(bm25_stopwords.STOPWORDS_SPANISH),
    "it": frozenset(bm25_stopwords.STOPWORDS_ITALIAN),
}
_SNOWBALL = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian"}
# One stop-word list for the five languages we serve, so a German query is not
# dominated by "ist" and "mein".
_STOPWORD_SET = frozenset().union(*_STOPWORDS_BY_LANGUAGE.values())
_STOPWORDS = sorted(_STOPWORD_SET)
# Never highlighted in a snippet: every language's stop words plus English question words ("can",
# "how", "when"), which the ranking keeps but a reader does not need marked.
STOPWORDS = _STOPWORD_SET | frozenset(bm25_stopwords.STOPWORDS_EN_PLUS)
# What a short unknown word may be a slip of: the language's stop words, and for English its question
# words too ("wher", "whta"), which bm25s keeps out of the short English list.
_SLIP_WORDS = {
    **_STOPWORDS_BY_LANGUAGE,
    "en": _STOPWORDS_BY_LANGUAGE["en"] | frozenset(bm25_stopwords.STOPWORDS_EN_PLUS),
}
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WORD = re.compile(r"(?u)\w+")
# A word an apostrophe cuts ("hasn" of "hasn't"): its own letters are no typo.
_CONTRACTED = re.compile(r"(?u)(\w+)['\u2019]\w")


def tokenize(text: str) -> list[str]:
    """The plain analysis: lower-cased words of two or more characters, minus every stop word."""
    stop = _STOPWORD_SET
    return [t for t in _TOKEN.findall(text.lower()) if t not in stop]


def fold(word: str) -> str:
    """Accents off ("arrivée" -> "arrivee"): customers often type without them."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_stemmer_lock = threading.Lock()
_stemmers: dict[str, object] = {}


def _stem_words(words: list[str], language: str) -> list[str]:
    import Stemmer  # PyStemmer: C Snowball stemmers, ~1 µs a word

    name = _SNOWBALL.get(language)
    if name is None:
        return words
    with _stemmer_lock:
        stemmer = _stemmers.get(name)
        if stemmer is None:
            stemmer = _stemmers[name] = Stemmer.Stemmer(name)
    stemmed: list[str] = stemmer.stemWords(words)  # type: ignore[attr-defined]
    return stemmed


def stopwords(language: str) -> frozenset[str]:
    return _STOPWORDS_BY_LANGUAGE.get(language, _STOPWORDS_BY_LANGUAGE["en"])


def analyze(text: str, language: str) -> list[str]:
    """The stemmed analysis of one text in one language."""
    stop = stopwords(language)
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop and fold(w) not in stop]
    return [fold(s) for s in _stem_words(words, language)]


@dataclass(frozen=True)
class QueryTerms:
    tokens: list[str]  # analysed terms to score with
    corrections: dict[str, str]  # typed word -> the corpus word it was taken for
    words: list[list[str]] = field(default_factory=list)  # per content word: its terms in each language


_CORRECTIONS_KEPT = 50_000


class KeywordIndex:
    """Rebuilt whole on change: bm25s indexes tens of thousands of short texts per second."""

    def __init__(
        self,
        texts: Sequence[str],
        languages: Sequence[str] | None = None,
        *,
        analysis: Analysis = "plain",
    ) -> None:
        self._size = len(texts)
        self.analysis: Analysis = analysis
        languages = list(languages) if languages is not None else ["en"] * len(texts)
        if analysis == "stemmed":
            tokenised = [analyze(t, lang) or ["\u2205"] for t, lang in zip(texts, languages, strict=True)]
        else:
            tokenised = [tokenize(t) or ["\u2205"] for t in texts]
        self._vocabulary = sorted({tok for doc in tokenised for tok in doc})
        self._vocab_set = frozenset(self._vocabulary)
        self._corrections: dict[str, str | None] = {}
        # Each analysed term's most frequent surface word, so a corrected query can be re-encoded.
        surface: dict[str, Counter[str]] = {}
        if analysis == "stemmed":
            for text, lang in zip(texts, languages, strict=True):
                words = [w for w in _TOKEN.findall(text.lower()) if w not in stopwords(lang)]
                for word, stem in zip(words, _stem_words(words, lang), strict=True):
                    surface.setdefault(fold(stem), Counter())[word] += 1
        self._surface = {stem: counts.most_common(1)[0][0] for stem, counts in surface.items()}
        self._retriever = bm25s.BM25()
        if self._size:
            self._retriever.index(tokenised, show_progress=False)

    def __len__(self) -> int:
        return self._size

    @property
    def vocabulary(self) -> frozenset[str]:
        return self._vocab_set

    def _closest(self, token: str) -> str | None:
        if token in self._vocab_set or len(token) < 4 or not self._vocabulary:
            return None
        if token in self._corrections:
            return self._corrections[token]
        max_edits = 1 if len(token) < 7 else 2
        match = process.extractOne(token, self._vocabulary, scorer=OSA.distance, score_cutoff=max_edits)
        closest = match[0] if match else None
        # Typed prefixes send the same words again and again; a scan of the vocabulary costs ~2 ms at
        # 100 k chunks. The index is rebuilt whole on change, so this cache never goes stale.
        if len(self._corrections) < _CORRECTIONS_KEPT:
            self._corrections[token] = closest
        return closest

    def correct(self, tokens: list[str]) -> list[str]:
        """Maps unknown tokens to the closest vocabulary word (one or two edits or swaps), so typos still
        match."""
        return [self._closest(t) or t for t in tokens]

    def query_terms(self, query: str, languages: Iterable[str]) -> QueryTerms:
        """The query's terms under each language's analysis, typos mapped onto the corpus vocabulary.

        The first language is the query's own. A real word of the query's languages (wordfreq knows
        it) is never "corrected", nor is a word cut by an apostrophe ("hasn't", "wasn't"), nor a
        word into one of a third language.
        """
        if self.analysis == "plain":
            tokens = self.correct(tokenize(query))
            return QueryTerms(tokens, {}, [[t] for t in tokens])
        terms: list[str] = []
        corrections: dict[str, str] = {}
        lowered = query.lower()
        words = [w for w in _TOKEN.findall(lowered)]
        contracted = frozenset(_CONTRACTED.findall(lowered))
        languages = list(dict.fromkeys(languages))
        # A stop word of any of the query's languages is no term in the others ("la", "est" of a French
        # query are not English content words).
        stop_any = frozenset().union(*(stopwords(language) for language in languages))
        per_word: dict[int, list[str]] = {}
        for language in languages:
            for position, (word, stem) in enumerate(zip(words, _stem_words(words, language), strict=True)):
                if word in stop_any or fold(word) in stop_any:
                    continue
                term = fold(stem)
                if term not in self._vocab_set and not word.isdigit() and word not in contracted:
                    # A typo of a stop word ("wher") is a stop word, not a rare product term.
                    own_language = language == languages[0]
                    slip = _stopword_slip(word, language, tuple(languages)) if own_language else None
                    if slip is not None:
                        corrections.setdefault(word, slip)
                        continue
                    if not spelling.is_known(word, languages):
                        fixed = self._closest(term)
                        surface = self._surface.get(fixed, fixed) if fixed is not None else None
                        if surface is not None and not spelling.belongs_elsewhere(surface, languages):
                            corrections.setdefault(word, surface)
                            term = fixed or term
                terms.append(term)
                per_word.setdefault(position, []).append(term)
        grouped = [list(dict.fromkeys(per_word[p])) for p in sorted(per_word)]
        return QueryTerms(list(dict.fromkeys(terms)), corrections, grouped)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for these analysed terms."""
        if not self._size or not tokens:
            return np.zeros(self._size, dtype=np.float32)
        # Scored directly: bm25s.retrieve wraps even one query in a thread pool and a progress bar,
        # which cost ~10 ms per query at 100k documents, most of the search.
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def coverage(self, words: list[list[str]]) -> np.ndarray:
        """Per document, the share of the query's content words it contains (0..1), a word counting when
        any of its analyses does: unlike BM25 normalised to the best match, it says how much of the
        question a text speaks about, so it can inform abstention."""
        if not self._size or not words:
            return np.zeros(self._size, dtype=np.float32)
        present = np.zeros(self._size, dtype=np.float32)
        for variants in words:
            found = np.zeros(self._size, dtype=bool)
            for token in variants:
                if token in self._vocab_set:
                    found |= np.asarray(self._retriever.get_scores([token]), dtype=np.float32) > 0
            present += found
        return present / len(words)

    def search(
        self,
        query: str,
        k: int,
        mask: np.ndarray | None = None,
        *,
        languages: Sequence[str] = ("en",),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (positions, scores) of the top-k documents with a positive score; mask filters inside."""
        tokens = self.query_terms(query, languages).tokens
        if not self._size or not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, self._size)
        scores = self.scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0).astype(np.float32)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._size else np.arange(self._size)
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return top[keep].astype(np.int64), scores[top][keep]


@lru_cache(maxsize=4096)
def _stopword_slip(word: str, language: str, languages: tuple[str, ...]) -> str | None:
    """The stop word this word is one edit from, when that stop word is far more frequent."""
    if len(word) < 4 or spelling.zipf(word, languages) >= spelling.STOPWORD_SLIP_MAX_ZIPF:
        return None
    near = [
        s
        for s in _SLIP_WORDS.get(language, stopwords(language))
        if abs(len(s) - len(word)) <= 1 and OSA.distance(word, s, score_cutoff=1) <= 1
    ]
    if not near:
        return None
    # A dropped letter is the commonest slip: "wher" is "where" before it is "when".
    best = max(near, key=lambda s: (len(s), spelling.zipf(s, languages)))
    if spelling.zipf(best, languages) - spelling.zipf(word, languages) < spelling.STOPWORD_SLIP_ZIPF_GAP:
        return None
    return best


def correct_text(text: str, corrections: dict[str, str]) -> str:
    """The query with each corrected word replaced (case kept for the first letter)."""
    if not corrections:
        return text

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        fixed = corrections.get(word.lower())
        if fixed is None:
            return word
        return fixed.capitalize() if word[:1].isupper() else fixed

    return _WORD.sub(swap, text)
