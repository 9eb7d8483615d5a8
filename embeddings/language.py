"""Which language a customer typed in: lingua's statistical models (shipped inside its wheel).

Restricted to the five languages the service speaks, which makes it faster and more accurate on
the 2-6 word queries of a help-centre search box than an open-ended detector. A short or mixed
query ("iPhone 15 case", "bitcoin") gets a low confidence; then the page's locale decides.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

LANGUAGES = ("en", "fr", "de", "es", "it")
# Below this confidence the page's locale wins. Chosen on the development shops' queries
# (eval/results/language_detection.json): it keeps detection where it is right and hands the
# short ambiguous queries back to the locale the customer's page is in.
MIN_CONFIDENCE = 0.5

_lock = threading.Lock()
_detector: LanguageDetector | None = None


@dataclass(frozen=True)
class DetectedLanguage:
    language: str  # ISO 639-1, one of LANGUAGES
    confidence: float  # lingua's relative confidence of the top language, 0..1
    source: str  # "detected" or "locale"


def _get_detector() -> LanguageDetector:
    global _detector
    with _lock:
        if _detector is None:
            from lingua import Language, LanguageDetectorBuilder

            _detector = (
                LanguageDetectorBuilder.from_languages(
                    Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.SPANISH, Language.ITALIAN
                )
                .with_preloaded_language_models()
                .build()
            )
        return _detector


def warm() -> None:
    """Builds the detector now (1.5 s): a server's warm-up, so no customer's first query waits for it."""
    _get_detector()


def base_language(locale: str | None) -> str | None:
    """'fr-CA' -> 'fr'; None or an unsupported language -> None."""
    if not locale:
        return None
    language = locale.split("-")[0].split("_")[0].lower()
    return language if language in LANGUAGES else None


@lru_cache(maxsize=4096)
def _confidences(text: str) -> tuple[tuple[str, float], ...]:
    values = _get_detector().compute_language_confidence_values(text)
    return tuple((v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values)


def detect_language(
    text: str, *, locale: str | None = None, min_confidence: float = MIN_CONFIDENCE
) -> DetectedLanguage:
    """The query's language, or the page locale's when the detector is unsure (else English)."""
    fallback = base_language(locale) or "en"
    stripped = " ".join(text.split())
    if not stripped:
        return DetectedLanguage(fallback, 0.0, "locale")
    ranked = _confidences(stripped[:300])
    if not ranked:
        return DetectedLanguage(fallback, 0.0, "locale")
    language, confidence = ranked[0]
    if confidence < min_confidence:
        return DetectedLanguage(fallback, confidence, "locale")
    return DetectedLanguage(language, confidence, "detected")


def confidences(text: str) -> dict[str, float]:
    """Every supported language's confidence (for evaluation and debugging)."""
    return dict(_confidences(" ".join(text.split())[:300]))
