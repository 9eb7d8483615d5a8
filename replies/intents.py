"""Semantic fallback for the question splitter: a sentence's nearest labelled example phrasings.

The phrase patterns in replies/segmentation.py are precise but only know the wording they were
written for. For a sentence they miss (or match only through an ambiguous word such as "return"),
this module embeds it with the service's multilingual encoder and compares it with short generic
customer phrasings per reason tag in five languages (core/data/reason_examples.yaml). A
"none" class of greetings, thanks and background statements, plus a similarity floor, keeps
chit-chat untagged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.reasons import EXAMPLES_PATH, load_examples
from replies.segmentation import SegmentMode

if TYPE_CHECKING:
    from sklearn.multiclass import OneVsRestClassifier

    from embeddings.encoder import Encoder

NONE = "none"
# Chosen on demo/draft_requests.jsonl only (never the held-out sets), with the KB's use+minilm-multilingual:
# scoring the 85 pattern-tagged sentences as if the patterns had missed them, floor 0.4 and margin 0.03
# give 54 right, 3 wrong and 1 of 17 chit-chat lines tagged; 0.5 halves the wrong ones but also the right.
DEFAULT_FLOOR = 0.4
DEFAULT_MARGIN = 0.03
TOP_K = 2


@dataclass(frozen=True)
class IntentGuess:
    """The best tag for a sentence (None = not a request or not sure), with its score and the runner-up's."""

    topic: str | None
    score: float
    best: str
    runner_up_score: float
    # Every tag over the floor, surest first (the head is multi-label: "arrived broken and one part missing").
    topics: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()  # of ``topics``


@dataclass(frozen=True)
class _Examples:
    labels: tuple[str, ...]
    label_index: np.ndarray  # row -> position in labels
    vectors: np.ndarray


_cache: dict[tuple[str, str, float], _Examples] = {}
_cache_lock = threading.Lock()


def _examples(encoder: Encoder, path: Path) -> _Examples:
    """Example vectors, computed once per encoder (name and version) and examples file version."""
    key = (f"{encoder.name}:{encoder.version}", str(path), path.stat().st_mtime)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            return found
        pairs = load_examples(path)
        labels = tuple(sorted({tag for tag, _ in pairs}))
        position = {label: i for i, label in enumerate(labels)}
        vectors = encoder.encode([phrase for _, phrase in pairs], kind="query")
        found = _Examples(
            labels, np.array([position[tag] for tag, _ in pairs]), np.asarray(vectors, np.float32)
        )
        _cache[key] = found
        return found


class IntentClassifier:
    """Nearest-example tagging: a tag's score is the mean cosine of its TOP_K closest examples."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        floor: float = DEFAULT_FLOOR,
        margin: float = DEFAULT_MARGIN,
        path: Path = EXAMPLES_PATH,
    ) -> None:
        self.encoder = encoder
        self.floor = floor
        self.margin = margin
        self._examples = _examples(encoder, path)

    def classify(self, sentences: Sequence[str]) -> list[IntentGuess]:
        if not sentences:
            return []
        examples = self._examples
        queries = np.asarray(self.encoder.encode(list(sentences), kind="query"), np.float32)
        similarities = queries @ examples.vectors.T
        guesses: list[IntentGuess] = []
        for row in similarities:
            per_label = np.full(len(examples.labels), -1.0, dtype=np.float32)
            for index in range(len(examples.labels)):
                scores = row[examples.label_index == index]
                top = np.sort(scores)[-TOP_K:]
                per_label[index] = float(top.mean())
            order = np.argsort(-per_label)
            best, second = int(order[0]), int(order[1])
            label, score, runner_up = examples.labels[best], float(per_label[best]), float(per_label[second])
            sure = label != NONE and score >= self.floor and score - runner_up >= self.margin
            guesses.append(
                IntentGuess(
                    topic=label if sure else None,
                    score=score,
                    best=label,
                    runner_up_score=runner_up,
                    topics=(label,) if sure else (),
                    scores=(score,) if sure else (),
                )
            )
        return guesses


@lru_cache(maxsize=8)
def classifier_for(encoder: Encoder) -> IntentClassifier | None:
    """The fallback for this encoder, or None where the encoder carries no meaning."""
    if not encoder.semantic:
        return None
    return IntentClassifier(encoder)


# The head's defaults, chosen leave-one-shop-out over the seven devshops (`deflect eval questions`,
# eval/results/questions-loso-run4.json): the choice on all seven. With 2,094 more examples written
# independently (420 per language), the phrase patterns stay first: the head alone ("classifier" mode)
# detects every question of 0.79 of the requests against 0.89-0.91 with the patterns first.
HEAD_FLOOR = 0.7
HEAD_MODE: SegmentMode = "fallback"
HEAD_C = 4.0
# A tenant's tagged past tickets teach the head its customers' wording; the newest are enough, and a
# bound keeps the first draft after a large import from encoding every ticket the shop ever had.
MAX_TENANT_EXAMPLES = 2000


@dataclass(frozen=True)
class _Head:
    labels: tuple[str, ...]
    # One row of logistic weights per label, and its intercept: a multi-label one-vs-rest logistic model's
    # probabilities are sigmoid(x . w + b) per label, read in one matrix product instead of sklearn's twelve
    # predict_proba calls (5 of a draft's 77 profiled milliseconds).
    weights: np.ndarray
    intercepts: np.ndarray

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights.T + self.intercepts
        # sigmoid as exp(-log(1 + e^-z)): no overflow warning for a far-off logit
        return np.asarray(np.exp(-np.logaddexp(0.0, -logits)), np.float32)


def head_of(labels: tuple[str, ...], model: OneVsRestClassifier) -> _Head:
    """The fitted one-vs-rest logistic model as its weight matrix (every label had examples of both kinds)."""
    return _Head(
        labels,
        weights=np.vstack([e.coef_[0] for e in model.estimators_]).astype(np.float32),
        intercepts=np.array([e.intercept_[0] for e in model.estimators_], np.float32),
    )


_head_cache: dict[tuple[str, str, float, float, str], _Head] = {}


def _fit_head(
    encoder: Encoder, path: Path, c: float, extra: Sequence[tuple[Sequence[str], str]], extra_key: str
) -> _Head:
    key = (f"{encoder.name}:{encoder.version}", str(path), path.stat().st_mtime, c, extra_key)
    with _cache_lock:
        found = _head_cache.get(key)
    if found is not None:
        return found
    examples = _examples(encoder, path)
    labels = examples.labels
    position = {label: i for i, label in enumerate(labels)}
    rows = [(frozenset(tags) & set(labels), text) for tags, text in extra]
    rows = [(tags, text) for tags, text in rows if tags]
    targets = np.zeros((len(examples.label_index) + len(rows), len(labels)), dtype=np.int64)
    targets[np.arange(len(examples.label_index)), examples.label_index] = 1
    for offset, (tags, _) in enumerate(rows, start=len(examples.label_index)):
        for tag in tags:
            targets[offset, position[tag]] = 1
    vectors = examples.vectors
    if rows:
        extra_vectors = np.asarray(encoder.encode([text for _, text in rows], kind="query"), np.float32)
        vectors = np.vstack([vectors, extra_vectors])
    # scikit-learn on first use: the CLI and the unit tests that never draft start without it.
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    # Balanced classes: each tag has a tenth of the rows, and an unweighted fit would put every
    # probability near 0.1, leaving no room for a floor between "surely not" and "surely".
    model = OneVsRestClassifier(LogisticRegression(C=c, class_weight="balanced", max_iter=2000))
    model.fit(vectors, targets)
    head = head_of(labels, model)
    with _cache_lock:
        _head_cache[key] = head
        if len(_head_cache) > 64:
            _head_cache.pop(next(iter(_head_cache)))
    return head


class HeadClassifier:
    """Few-shot multi-label head: one-vs-rest logistic regression on the frozen encoder's vectors.

    Trained on the generic examples (core/data/reason_examples.yaml, "none" included as a class of its
    own) plus, when given, the tenant's own tagged past tickets. A sentence gets every tag whose
    probability passes the floor and beats "none"; nothing over the floor is the "none" outcome.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        floor: float = HEAD_FLOOR,
        c: float = HEAD_C,
        extra: Sequence[tuple[Sequence[str], str]] = (),
        extra_key: str = "",
        path: Path = EXAMPLES_PATH,
    ) -> None:
        """``extra``: (tags, text) rows of the tenant; ``extra_key`` names that set for the cache."""
        self.encoder = encoder
        self.floor = floor
        self._head = _fit_head(encoder, path, c, extra, extra_key if extra else "")

    def probabilities(self, sentences: Sequence[str]) -> np.ndarray:
        """(sentences, labels) probabilities, in the order of ``labels``."""
        if not sentences:
            return np.zeros((0, len(self._head.labels)), np.float32)
        vectors = np.asarray(self.encoder.encode(list(sentences), kind="query"), np.float32)
        return self._head.probabilities(vectors)

    @property
    def labels(self) -> tuple[str, ...]:
        return self._head.labels

    def classify(self, sentences: Sequence[str]) -> list[IntentGuess]:
        return [self.decide(row) for row in self.probabilities(sentences)]

    def decide(self, row: np.ndarray, floor: float | None = None) -> IntentGuess:
        """The guess for one row of probabilities (``floor`` overrides the classifier's, for calibration)."""
        floor = self.floor if floor is None else floor
        labels = self._head.labels
        none = float(row[labels.index(NONE)]) if NONE in labels else 0.0
        order = np.argsort(-row)
        best, second = int(order[0]), int(order[1])
        topics = tuple(
            labels[i] for i in order if labels[i] != NONE and row[i] >= floor and float(row[i]) > none
        )
        return IntentGuess(
            topic=topics[0] if topics else None,
            score=float(row[best]) if not topics else float(row[labels.index(topics[0])]),
            best=labels[best],
            runner_up_score=float(row[second]),
            topics=topics,
            scores=tuple(float(row[labels.index(t)]) for t in topics),
        )


def head_for(
    encoder: Encoder, *, extra: Sequence[tuple[Sequence[str], str]] = (), extra_key: str = ""
) -> HeadClassifier | None:
    """The head for this encoder (and tenant examples), or None where the encoder carries no meaning."""
    if not encoder.semantic:
        return None
    return HeadClassifier(encoder, extra=extra, extra_key=extra_key)
