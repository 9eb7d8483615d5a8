"""Generic customer phrasings per contact reason, five languages (core/data/reason_examples.yaml).

Written without sight of any evaluation shop. The drafts' question classifier learns from them
(replies/intents.py) and the reason profiles of untagged tickets are measured against their centroids
(history/tagging.py), so they live under both layers.
"""

from __future__ import annotations

from pathlib import Path

import yaml

EXAMPLES_PATH = Path(__file__).parent / "data" / "reason_examples.yaml"


def load_examples(path: Path = EXAMPLES_PATH) -> list[tuple[str, str]]:
    """(tag, phrase) pairs of the examples file, every language together.

    Raises ValueError naming the tag and language when the file is not tag -> language -> phrases."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise ValueError("expected a mapping of reason tag -> language -> list of phrases")
    pairs: list[tuple[str, str]] = []
    for tag, per_locale in data.items():
        if not isinstance(per_locale, dict):
            raise ValueError(f"tag {tag!r}: expected a mapping of language -> list of phrases")
        for locale, phrases in per_locale.items():
            if not isinstance(phrases, list) or not all(isinstance(p, str) and p.strip() for p in phrases):
                raise ValueError(f"tag {tag!r}, language {locale!r}: expected a list of non-empty phrases")
            pairs += [(str(tag), phrase) for phrase in phrases]
    return pairs
