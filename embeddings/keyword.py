"""BM25 keyword index (bm25s) with typo correction against the corpus vocabulary."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import bm25s
import numpy as np
from bm25s import stopwords as bm25_stopwords
from rapidfuzz import process
from rapidfuzz.distance import OSA

# bm25s forces its logger to DEBUG on import, which would log every index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# One stop-word list for the five languages we serve, so a German query is not
# dominated by "ist" and "mein".
_STOPWORDS = sorted(
    set(bm25_stopwords.STOPWORDS_EN)
    | set(bm25_stopwords.STOPWORDS_FRENCH)
    | set(bm25_stopwords.STOPWORDS_GERMAN)
    | set(bm25_stopwords.STOPWORDS_SPANISH)
    | set(bm25_stopwords.STOPWORDS_ITALIAN)
)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tokenize(text: str) -> list[str]:
    stop = _STOPWORD_SET
    return [t for t in _TOKEN.findall(text.lower()) if t not in stop]


_STOPWORD_SET = frozenset(_STOPWORDS)


class KeywordIndex:
    """Rebuilt whole on change: bm25s indexes tens of thousands of short texts per second."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        tokenised = [tokenize(t) or ["\u2205"] for t in texts]
        self._vocabulary = sorted({tok for doc in tokenised for tok in doc})
        self._vocab_set = frozenset(self._vocabulary)
        self._retriever = bm25s.BM25()
        if self._size:
            self._retriever.index(tokenised, show_progress=False)

    def __len__(self) -> int:
        return self._size

    def correct(self, tokens: list[str]) -> list[str]:
        """Maps unknown tokens to the closest vocabulary word (one or two edits or swaps), so typos still
        match."""
        fixed: list[str] = []
        for token in tokens:
            if token in self._vocab_set or len(token) < 4 or not self._vocabulary:
                fixed.append(token)
                continue
            max_edits = 1 if len(token) < 7 else 2
            match = process.extractOne(token, self._vocabulary, scorer=OSA.distance, score_cutoff=max_edits)
            fixed.append(match[0] if match else token)
        return fixed

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns (positions, scores) of the top-k documents with a positive score; mask filters inside."""
        tokens = self.correct(tokenize(query))
        if not self._size or not tokens:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, self._size)
        # Scored directly: bm25s.retrieve wraps even one query in a thread pool and a progress bar,
        # which cost ~10 ms per query at 100k documents, most of the search.
        scores = np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
        if mask is not None:
            scores = np.where(mask, scores, 0.0).astype(np.float32)
        top = np.argpartition(-scores, k - 1)[:k] if k < self._size else np.arange(self._size)
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return top[keep].astype(np.int64), scores[top][keep]
