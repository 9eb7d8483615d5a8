"""`deflect eval questions`: leave-one-shop-out choice and scoring of the drafts' question classifier.

The draft answers the questions the splitter finds (replies/segmentation.py): phrase patterns, then a
sentence classifier for what they miss. This compares, per development shop and per language, the
nearest-example classifier (the baseline) with the few-shot logistic head (replies/intents.py), with and
without the shop's own tagged past tickets, and with the head asked about every sentence or only about the
ones the patterns are unsure of. For each held-out shop the head's settings (C, floor, mode) are chosen on
the *other* shops' draft requests; the held-out shop is then scored once with them.

Scored per request on the message level, like `deflect eval drafts`: a request is fully detected when
every expected topic is among the detected ones; extra topics are counted apart. Sentence vectors are
computed once (a memo around the encoder), so a fold tries every setting in seconds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.reasons import EXAMPLES_PATH
from core.settings import ROOT
from embeddings.encoder import Encoder, TextKind
from replies.intents import (
    HEAD_C,
    HEAD_FLOOR,
    HEAD_MODE,
    HeadClassifier,
    IntentClassifier,
    IntentGuess,
)
from replies.message import customer_message
from replies.segmentation import Classifier, SegmentMode, segment

DEVSHOPS = ROOT / "devshops"
FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
CS = (1.0, 4.0, 16.0)
MODES: tuple[SegmentMode, ...] = ("fallback", "all", "classifier")
# An extra topic writes a paragraph nobody asked for; it costs a quarter of a missed request.
EXTRA_COST = 0.25


@dataclass(frozen=True)
class Request:
    id: str
    text: str
    locale: str
    expected: frozenset[str]


@dataclass(frozen=True)
class Shop:
    name: str
    requests: list[Request]
    # (tags, text) of the shop's tagged past tickets: what the head learns the shop's wording from.
    tickets: list[tuple[tuple[str, ...], str]]


@dataclass(frozen=True)
class Setting:
    """One head configuration: a point of the grid the folds choose from."""

    tickets: bool
    c: float
    floor: float
    mode: SegmentMode

    def label(self) -> str:
        tickets = "yes" if self.tickets else "no"
        return f"head C={self.c:g} floor={self.floor:g} mode={self.mode} tickets={tickets}"


class MemoEncoder:
    """Remembers every text's vector: the grid encodes each sentence once, not once per setting."""

    def __init__(self, inner: Encoder) -> None:
        self._inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.semantic = inner.semantic
        self._memo: dict[tuple[str, str], np.ndarray] = {}

    @property
    def version(self) -> str:
        return self._inner.version

    def __hash__(self) -> int:
        return id(self)

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if (kind, t) not in self._memo))
        if missing:
            for text, vector in zip(missing, self._inner.encode(missing, kind=kind), strict=True):
                self._memo[(kind, text)] = vector
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self._memo[(kind, t)] for t in texts])


class _FixedFloor:
    """A head read at another floor without refitting (the floor only moves the decision)."""

    def __init__(self, head: HeadClassifier, floor: float) -> None:
        self._head, self.floor = head, floor

    def classify(self, sentences: Sequence[str]) -> list[IntentGuess]:
        return [self._head.decide(row, self.floor) for row in self._head.probabilities(sentences)]


def load_shop(folder: Path) -> Shop:
    """A development shop's draft requests and tagged past tickets."""
    requests = [
        Request(
            id=row["id"],
            text=row["text"],
            locale=row.get("locale") or "en",
            expected=frozenset(row.get("expected_topics", [])),
        )
        for row in _jsonl(folder / "draft_requests.jsonl")
    ]
    tickets = [
        (tuple(row["tags"]), customer_message(row.get("subject"), row["body"]))
        for row in _jsonl(folder / "tickets.jsonl")
        if row.get("tags")
    ]
    return Shop(folder.name, requests, tickets)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def detected(
    shop: Shop, classifier: Classifier | None, *, mode: SegmentMode = "fallback"
) -> list[frozenset[str]]:
    """The topics the splitter finds in each request of the shop."""
    return [frozenset(q.topic for q in segment(r.text, classifier, mode=mode)) for r in shop.requests]


def figures(requests: Sequence[Request], found: Sequence[frozenset[str]]) -> dict[str, Any]:
    """Fully detected rate, topic recall, extra topics per request, and the objective the folds maximise."""
    if not requests:
        return {"requests": 0}
    full = sum(r.expected <= f for r, f in zip(requests, found, strict=True)) / len(requests)
    expected = sum(len(r.expected) for r in requests)
    hit = sum(len(r.expected & f) for r, f in zip(requests, found, strict=True))
    extra = sum(len(f - r.expected) for r, f in zip(requests, found, strict=True)) / len(requests)
    return {
        "requests": len(requests),
        "fully_detected": round(full, 4),
        "topic_recall": round(hit / expected, 4) if expected else None,
        "extra_per_request": round(extra, 4),
        "objective": round(full - EXTRA_COST * extra, 4),
    }


def by_locale(requests: Sequence[Request], found: Sequence[frozenset[str]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for locale in sorted({r.locale for r in requests}):
        pairs = [(r, f) for r, f in zip(requests, found, strict=True) if r.locale == locale]
        out[locale] = figures([r for r, _ in pairs], [f for _, f in pairs])
    return out


def choose(scores: dict[Setting, dict[str, float]], shops: Sequence[str]) -> Setting:
    """The setting with the best objective pooled over ``shops`` (ties: the higher floor, then smaller C)."""

    def pooled(setting: Setting) -> tuple[float, float, float]:
        return (
            sum(scores[setting][shop] for shop in shops) / len(shops),
            setting.floor,
            -setting.c,
        )

    return max(scores, key=pooled)


def run_loso(
    shops: Sequence[Shop],
    encoder: Encoder,
    *,
    cs: Sequence[float] = CS,
    floors: Sequence[float] = FLOORS,
    examples: Path = EXAMPLES_PATH,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Per held-out shop: the head's setting chosen on the other shops, its figures beside the baseline's."""
    memo = encoder if isinstance(encoder, MemoEncoder) else MemoEncoder(encoder)
    baseline = IntentClassifier(memo, path=examples)
    found_baseline = {shop.name: detected(shop, baseline) for shop in shops}
    found: dict[Setting, dict[str, list[frozenset[str]]]] = {}
    for shop in shops:
        log(f"grid on {shop.name}")
        for with_tickets, c in itertools.product((False, True), cs):
            head = HeadClassifier(
                memo,
                c=c,
                extra=shop.tickets if with_tickets else (),
                extra_key=f"eval:{shop.name}",
                path=examples,
            )
            for floor, mode in itertools.product(floors, MODES):
                setting = Setting(with_tickets, c, floor, mode)
                found.setdefault(setting, {})[shop.name] = detected(shop, _FixedFloor(head, floor), mode=mode)
    by_name = {shop.name: shop for shop in shops}
    objective = {
        setting: {name: figures(by_name[name].requests, f)["objective"] for name, f in per_shop.items()}
        for setting, per_shop in found.items()
    }
    folds = []
    pooled_requests: list[Request] = []
    pooled_head: list[frozenset[str]] = []
    pooled_base: list[frozenset[str]] = []
    for shop in shops:
        others = [s.name for s in shops if s.name != shop.name]
        chosen = choose(objective, others)
        head_found = found[chosen][shop.name]
        pooled_requests += shop.requests
        pooled_head += head_found
        pooled_base += found_baseline[shop.name]
        folds.append(
            {
                "held_out": shop.name,
                "chosen": chosen.label(),
                "head": figures(shop.requests, head_found),
                "baseline": figures(shop.requests, found_baseline[shop.name]),
                "head_by_locale": by_locale(shop.requests, head_found),
                "baseline_by_locale": by_locale(shop.requests, found_baseline[shop.name]),
            }
        )
    # What each part brings: the same LOSO choice restricted to one mode and one source of examples.
    ablation: dict[str, dict[str, Any]] = {}
    for with_tickets, mode in itertools.product((False, True), MODES):
        subset = {k: v for k, v in objective.items() if k.tickets == with_tickets and k.mode == mode}
        requests: list[Request] = []
        chosen_found: list[frozenset[str]] = []
        for shop in shops:
            pick = choose(subset, [s.name for s in shops if s.name != shop.name])
            requests += shop.requests
            chosen_found += found[pick][shop.name]
        ablation[f"mode={mode} tickets={'yes' if with_tickets else 'no'}"] = figures(requests, chosen_found)
    on_all = choose(objective, [s.name for s in shops])
    shipped = next(
        (
            s
            for s in objective
            if s.c == HEAD_C and s.floor == HEAD_FLOOR and s.tickets and s.mode == HEAD_MODE
        ),
        None,
    )
    return {
        "shops": [s.name for s in shops],
        "folds": folds,
        "pooled": {
            "head": figures(pooled_requests, pooled_head),
            "baseline": figures(pooled_requests, pooled_base),
        },
        "pooled_by_locale": {
            "head": by_locale(pooled_requests, pooled_head),
            "baseline": by_locale(pooled_requests, pooled_base),
        },
        "ablation": ablation,
        "chosen_on_all_shops": on_all.label(),
        "shipped": shipped.label() if shipped else None,
        "shipped_matches_choice": shipped == on_all,
    }


def dev_shops(folder: Path = DEVSHOPS) -> list[Shop]:
    """Every development shop with draft requests."""
    return [load_shop(p) for p in sorted(folder.iterdir()) if (p / "draft_requests.jsonl").exists()]
