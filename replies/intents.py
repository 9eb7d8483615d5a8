"""Semantic fallback for the question splitter: a sentence's nearest labelled example phrasings.

The phrase patterns in replies/segmentation.py are precise but only know the wording they were
written for. For a sentence they miss (or match only through an ambiguous word such as "return"),
this module embeds it with the service's multilingual encoder and compares it with short generic
customer phrasings per reason tag in five languages (replies/data/intent_examples.yaml). A
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
import yaml

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

EXAMPLES_PATH = Path(__file__).parent / "data" / "intent_examples.yaml"
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


@dataclass(frozen=True)
class _Examples:
    labels: tuple[str, ...]
    label_index: np.ndarray  # row -> position in labels
    vectors: np.ndarray


_cache: dict[tuple[str, str, float], _Examples] = {}
_cache_lock = threading.Lock()


def load_examples(path: Path = EXAMPLES_PATH) -> list[tuple[str, str]]:
    """(tag, phrase) pairs of the examples file, every language together."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (tag, str(phrase))
        for tag, per_locale in data.items()
        for phrases in per_locale.values()
        for phrase in phrases
    ]


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
                IntentGuess(topic=label if sure else None, score=score, best=label, runner_up_score=runner_up)
            )
        return guesses


@lru_cache(maxsize=8)
def classifier_for(encoder: Encoder) -> IntentClassifier | None:
    """The fallback for this encoder, or None where the encoder carries no meaning."""
    if not encoder.semantic:
        return None
    return IntentClassifier(encoder)
