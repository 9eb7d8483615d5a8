"""Duplicate-detection evaluation: precision/recall/F1 of the detector beside an exact-match baseline.

The detector is scored end to end: a pair counts as flagged only when candidate generation (index
search within the window + same-customer tickets) surfaces it and its score reaches the threshold.

Two entry points:
- `run`: one labelled set. The threshold is also chosen on the labelled pairs (F1-optimal) and
  cross-validated, to show how much choosing on the scored pairs flatters.
- `run_loso`: leave-one-shop-out over independently written development shops (devshops/). The
  weights and threshold are chosen on three shops and scored on the fourth; the shipped defaults
  (history/duplicates.py) are what the same procedure chooses on all four. Each shop is scored with
  its human tags and again with every tag dropped (each ticket auto-tagged), so the defaults hold
  for a tenant with tagged history and for one without.
"""

from __future__ import annotations

import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from core import calibration
from core import keys as key_service
from core.jsonl import read_jsonl_numbered
from core.settings import ROOT, Settings
from embeddings.encoder import EncoderLoader, load_encoder
from eval import metrics
from history import service
from history.duplicates import (
    COLLECTION,
    DEFAULT_THRESHOLD,
    DEFAULT_WEIGHTS,
    DuplicateWeights,
    PairFeatures,
    duplicate_candidates,
    score_pair,
)
from history.identity import normalise_email
from history.schemas import TicketCreate
from runtime import Runtime

FOLDS = 5
EVAL_TENANT = "eval-duplicates"
DEVSHOPS = ROOT / "devshops"
TagMode = Literal["human", "auto"]
TAG_MODES: tuple[TagMode, ...] = ("human", "auto")
CROSS_LINGUAL = "cross-lingual"

# The leave-one-shop-out search space. Kept small on purpose: ~250 labelled pairs per fold cannot
# tell apart finer settings, and a coarse grid keeps the per-fold choices stable.
GRID: dict[str, tuple[Any, ...]] = {
    "similarity": ("full", "language_aware", "multilingual"),
    "topic_mismatch": (0.55, 0.4),
    "profile_weight": (0.5, 0.75, 1.0),
    "profile_temperature": (0.02, 0.05),
    "time_decay": (0.25, 0.5, 0.75),
    # Not above the phone link's 0.7 (history.identity.LINK_STRENGTH): a name alone must not outweigh a
    # shared phone number. The development sets hold no namesakes, so the search cannot see what more would
    # cost (0.85, searched once in stop 40, was chosen by every fold: auto-tagged F1 0.932 against 0.924).
    "same_name_evidence": (0.3, 0.5, 0.7),
}


class LabelledPair(BaseModel):
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    duplicate: bool


@dataclass
class PairExample:
    """One labelled pair with what the detector sees of it (None: candidate generation missed it)."""

    a: str
    b: str
    duplicate: bool
    language: str  # the pair's locale, or "cross-lingual"
    baseline: bool
    features: PairFeatures | None


@dataclass
class PairResult:
    a: str
    b: str
    duplicate: bool
    score: float
    surfaced: bool
    reasons: list[str]
    baseline: bool


def read_pairs(path: Path, known: set[str]) -> list[LabelledPair]:
    """duplicate_pairs.jsonl; every pair must name tickets of the tickets file given beside it."""

    def parse(raw: dict[str, Any], _line: int) -> LabelledPair:
        pair = LabelledPair.model_validate(raw)
        missing = [i for i in (pair.a, pair.b) if i not in known]
        if missing:
            raise ValueError(f"unknown ticket id(s): {', '.join(missing)}")
        return pair

    return read_jsonl_numbered(path, parse)


def prf(predicted: Sequence[bool], gold: Sequence[bool]) -> dict[str, float | int | None]:
    """Precision, recall and F1 of boolean predictions, rounded for the report (None when undefined)."""
    return metrics.prf_of(predicted, gold).as_dict(digits=4)


def best_threshold(scores: Sequence[float], gold: Sequence[bool]) -> float:
    """The F1-optimal threshold; ties go to the higher threshold (fewer false merges)."""
    candidates = sorted({s for s in scores if s > 0}, reverse=True)
    best, best_f1 = DEFAULT_THRESHOLD, -1.0
    for threshold in candidates:
        # An undefined F1 (nothing predicted and nothing to find) is no better than the default.
        f1 = metrics.prf_of([s >= threshold for s in scores], gold).f1 or 0.0
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def _baseline(a: TicketCreate, b: TicketCreate) -> bool:
    """What exact-field help desks do: same e-mail address, or the same attached order id."""
    email_a = normalise_email(a.customer.email) if a.customer.email else None
    email_b = normalise_email(b.customer.email) if b.customer.email else None
    if email_a and email_a == email_b:
        return True
    return bool(a.order_id and a.order_id == b.order_id)


def pair_language(a: TicketCreate, b: TicketCreate) -> str:
    return a.locale if a.locale == b.locale else CROSS_LINGUAL


def collect(
    *,
    tickets_path: Path,
    pairs_path: Path,
    orders_path: Path | None,
    encoder: str,
    encoders: EncoderLoader = load_encoder,
    window_days: int = 14,
    without_tags: bool = False,
) -> tuple[list[PairExample], float]:
    """Loads the files into a throw-away database and gathers, for every labelled pair, the features
    the detector computes for it. Returns the examples and the load time in seconds.

    `without_tags` drops the human reason tags, so every ticket is auto-tagged: the situation of a
    tenant without any triaged history.
    """
    tickets = service.parse_tickets(tickets_path)
    if without_tags:
        tickets = [t.model_copy(update={"tags": []}) for t in tickets]
    by_id = {t.id: t for t in tickets}
    pairs = read_pairs(pairs_path, set(by_id))
    orders = service.parse_orders(orders_path) if orders_path else []
    with tempfile.TemporaryDirectory(prefix="deflect-dup-eval-") as folder:
        runtime = Runtime(Settings(data_dir=Path(folder), encoder=encoder), encoders=encoders)  # type: ignore[arg-type]
        try:
            runtime.migrate()
            started = time.perf_counter()
            with runtime.session() as session:
                key_service.get_or_create_tenant(session, tenant_id=EVAL_TENANT)
                service.import_orders(session, tenant_id=EVAL_TENANT, orders=orders, file=str(orders_path))
                service.import_tickets(
                    session, runtime.search, tenant_id=EVAL_TENANT, tickets=tickets, file=str(tickets_path)
                )
            runtime.search.catch_up(EVAL_TENANT, "tickets")
            load_seconds = time.perf_counter() - started
            examples = _examples(runtime, pairs, by_id, window_days)
        finally:
            runtime.close()
    return examples, load_seconds


def _examples(
    runtime: Runtime, pairs: list[LabelledPair], by_id: dict[str, TicketCreate], window_days: int
) -> list[PairExample]:
    examples: list[PairExample] = []
    cache: dict[str, dict[str, PairFeatures]] = {}
    with runtime.session() as session:
        for pair in pairs:
            features: PairFeatures | None = None
            # The pair is surfaced when the check of either ticket finds the other (as an agent
            # opening either ticket would see it).
            for source, target in ((pair.a, pair.b), (pair.b, pair.a)):
                if source not in cache:
                    ticket = service.get_ticket(session, tenant_id=EVAL_TENANT, ticket_id=source)
                    cache[source] = {
                        c.ticket.external_id: c.features
                        for c in duplicate_candidates(
                            session,
                            runtime.search,
                            tenant_id=EVAL_TENANT,
                            ticket=ticket,
                            window_days=window_days,
                        )
                    }
                if target in cache[source]:
                    features = cache[source][target]
                    break
            examples.append(
                PairExample(
                    a=pair.a,
                    b=pair.b,
                    duplicate=pair.duplicate,
                    language=pair_language(by_id[pair.a], by_id[pair.b]),
                    baseline=_baseline(by_id[pair.a], by_id[pair.b]),
                    features=features,
                )
            )
    return examples


def score_examples(
    examples: Sequence[PairExample], weights: DuplicateWeights, window_days: int
) -> list[float]:
    """The detector's score of every pair; 0 for a pair candidate generation did not surface."""
    return [
        score_pair(e.features, window_days=window_days, weights=weights)[0] if e.features else 0.0
        for e in examples
    ]


def run(
    *,
    tickets_path: Path,
    pairs_path: Path,
    orders_path: Path | None,
    encoder: str,
    encoders: EncoderLoader = load_encoder,
    window_days: int = 14,
    seed: int = 13,
    without_tags: bool = False,
    weights: DuplicateWeights = DEFAULT_WEIGHTS,
) -> dict[str, Any]:
    """Scores every labelled pair of one set with the shipped weights."""
    examples, load_seconds = collect(
        tickets_path=tickets_path,
        pairs_path=pairs_path,
        orders_path=orders_path,
        encoder=encoder,
        encoders=encoders,
        window_days=window_days,
        without_tags=without_tags,
    )
    results = _results(examples, weights, window_days)
    gold = [r.duplicate for r in results]
    scores = [r.score if r.surfaced else 0.0 for r in results]
    threshold = best_threshold(scores, gold)
    method = prf([s >= threshold for s in scores], gold)
    cv = _cross_validated(scores, gold, seed)
    baseline = prf([r.baseline for r in results], gold)
    errors = [
        {
            "a": r.a,
            "b": r.b,
            "duplicate": r.duplicate,
            "score": r.score,
            "surfaced": r.surfaced,
            "reasons": r.reasons,
        }
        for r in results
        if (r.surfaced and r.score >= threshold) != r.duplicate
    ]
    return {
        "encoder": encoder,
        "without_tags": without_tags,
        "weights": asdict(weights),
        "pairs": len(results),
        "positives": sum(gold),
        "window_days": window_days,
        "threshold": round(threshold, 4),
        "method": method,
        "method_cross_validated": cv,
        "method_at_default_threshold": {
            "threshold": DEFAULT_THRESHOLD,
            **prf([s >= DEFAULT_THRESHOLD for s in scores], gold),
        },
        "baseline_exact_email_or_order": baseline,
        "per_language_at_default_threshold": _per_language(
            examples, [s >= DEFAULT_THRESHOLD for s in scores]
        ),
        "positives_surfaced_by_candidate_generation": sum(r.surfaced for r in results if r.duplicate),
        "load_seconds": round(load_seconds, 2),
        "errors": errors,
    }


def _results(examples: list[PairExample], weights: DuplicateWeights, window_days: int) -> list[PairResult]:
    results = []
    for e in examples:
        score, reasons = (
            score_pair(e.features, window_days=window_days, weights=weights) if e.features else (0.0, [])
        )
        results.append(
            PairResult(
                a=e.a,
                b=e.b,
                duplicate=e.duplicate,
                score=score,
                surfaced=e.features is not None,
                reasons=reasons,
                baseline=e.baseline,
            )
        )
    return results


def _per_language(examples: Sequence[PairExample], predicted: Sequence[bool]) -> dict[str, dict[str, Any]]:
    """P/R/F1 per pair language, with the pair and duplicate counts behind each."""
    out: dict[str, dict[str, Any]] = {}
    for language in sorted({e.language for e in examples}, key=lambda lang: (lang == CROSS_LINGUAL, lang)):
        idx = [i for i, e in enumerate(examples) if e.language == language]
        gold = [examples[i].duplicate for i in idx]
        out[language] = {
            "pairs": len(idx),
            "positives": sum(gold),
            **prf([predicted[i] for i in idx], gold),
            "baseline": prf([examples[i].baseline for i in idx], gold),
        }
    return out


def _cross_validated(scores: list[float], gold: list[bool], seed: int) -> dict[str, Any]:
    order = list(range(len(scores)))
    random.Random(seed).shuffle(order)
    predicted = [False] * len(scores)
    thresholds = []
    for fold in range(FOLDS):
        held = set(order[fold::FOLDS])
        train = [i for i in order if i not in held]
        threshold = best_threshold([scores[i] for i in train], [gold[i] for i in train])
        thresholds.append(round(threshold, 4))
        for i in held:
            predicted[i] = scores[i] >= threshold
    return {"folds": FOLDS, "thresholds": thresholds, **prf(predicted, gold)}


# -- leave-one-shop-out ----------------------------------------------------------------------


def grid_weights(base: DuplicateWeights = DEFAULT_WEIGHTS) -> list[DuplicateWeights]:
    """Every weighting of the search space, the other fields as in `base`."""
    return [
        replace(base, **dict(zip(GRID, values, strict=True))) for values in itertools.product(*GRID.values())
    ]


def _f1_curve(thresholds: np.ndarray, scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    predicted = scores[None, :] >= thresholds[:, None]
    tp = (predicted & gold[None, :]).sum(axis=1)
    fp = (predicted & ~gold[None, :]).sum(axis=1)
    fn = (~predicted & gold[None, :]).sum(axis=1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 1.0)
    total = precision + recall
    return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1.0), 0.0)


def plateau_threshold(
    groups: Sequence[tuple[Sequence[float], Sequence[bool]]], floor: float = 0.0
) -> tuple[float, float]:
    """The threshold above ``floor`` that maximises the mean F1 over the groups, and that mean.

    F1 is flat between consecutive scores, so any threshold in the best run of scores is equally good
    on these pairs; the midpoint of the widest such interval is the one least likely to flip a pair
    of a shop not seen.
    """
    arrays = [(np.asarray(s, dtype=np.float64), np.asarray(g, dtype=bool)) for s, g in groups]
    values = np.unique(np.concatenate([s for s, _ in arrays]))
    values = values[values > floor]
    if values.size == 0:
        return DEFAULT_THRESHOLD, 0.0
    mean = np.mean([_f1_curve(values, s, g) for s, g in arrays], axis=0)
    best = float(mean.max())
    optimal = np.flatnonzero(mean >= best - 1e-9)
    # Contiguous runs of optimal candidates; run i..j covers thresholds in (values[i-1], values[j]].
    runs: list[tuple[int, int]] = []
    for index in optimal:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], int(index))
        else:
            runs.append((int(index), int(index)))

    def bounds(run: tuple[int, int]) -> tuple[float, float]:
        return (float(values[run[0] - 1]) if run[0] > 0 else floor), float(values[run[1]])

    low, high = max((bounds(r) for r in runs), key=lambda b: b[1] - b[0])
    return round((low + high) / 2, 4), best


@dataclass(frozen=True)
class Choice:
    weights: DuplicateWeights
    threshold: float
    mean_f1: float


def choose(
    groups: Sequence[Sequence[PairExample]], window_days: int, candidates: Iterable[DuplicateWeights]
) -> Choice:
    """The weighting and threshold with the best mean F1 over the groups (shops x tag modes); ties
    keep the earlier candidate of the grid."""
    best: Choice | None = None
    for weights in candidates:
        # Two strangers' identical words score base_weight: a threshold at or under it merges every
        # "Where is my order?" (fifteen shops chose 0.1825 under base weight 0.2 without this floor).
        threshold, value = plateau_threshold(
            [(score_examples(g, weights, window_days), [e.duplicate for e in g]) for g in groups],
            floor=weights.base_weight,
        )
        if best is None or value > best.mean_f1 + 1e-9:
            best = Choice(weights=weights, threshold=threshold, mean_f1=round(value, 4))
    if best is None:
        raise ValueError("no candidate weighting to choose from")
    return best


def dev_shops(folder: Path = DEVSHOPS) -> list[Path]:
    """Shop folders holding tickets, duplicate pairs and orders."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and (p / "duplicate_pairs.jsonl").exists() and pair_tickets(p).exists()
    )


def pair_tickets(shop: Path) -> Path:
    """The tickets a shop's duplicate pairs name: a set written for duplicate detection
    (duplicate_tickets.jsonl) where the shop has one, else its past tickets."""
    written = shop / "duplicate_tickets.jsonl"
    return written if written.exists() else shop / "tickets.jsonl"


def run_loso(
    *,
    shops: Sequence[Path],
    encoder: str,
    encoders: EncoderLoader = load_encoder,
    window_days: int = 14,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Leave-one-shop-out: per held-out shop and tag mode, P/R/F1 with the weights and threshold chosen
    on the other shops, with the shipped defaults, with the shipped weights at a threshold tuned on
    the scored shop itself (an oracle, not a result), and of the exact-match baseline."""

    if len(shops) < 2:
        raise ValueError("leave-one-shop-out needs at least two shops")
    data: dict[tuple[str, TagMode], list[PairExample]] = {}
    load_seconds = 0.0
    for shop in shops:
        for mode in TAG_MODES:
            log(f"loading {shop.name} ({mode} tags)")
            orders = shop / "orders.jsonl"
            data[(shop.name, mode)], seconds = collect(
                tickets_path=pair_tickets(shop),
                pairs_path=shop / "duplicate_pairs.jsonl",
                orders_path=orders if orders.exists() else None,
                encoder=encoder,
                encoders=encoders,
                window_days=window_days,
                without_tags=mode == "auto",
            )
            load_seconds += seconds
    names = [s.name for s in shops]
    candidates = grid_weights()
    folds: list[dict[str, Any]] = []
    loso_predicted: dict[tuple[str, TagMode], list[bool]] = {}
    for held in names:
        log(f"choosing on all shops but {held}")
        choice = choose(
            [data[(s, m)] for s in names if s != held for m in TAG_MODES], window_days, candidates
        )
        fold: dict[str, Any] = {
            "held_out": held,
            "chosen": {"weights": asdict(choice.weights), "threshold": choice.threshold},
            "train_mean_f1": choice.mean_f1,
            "modes": {},
        }
        for mode in TAG_MODES:
            examples = data[(held, mode)]
            gold = [e.duplicate for e in examples]
            loso_scores = score_examples(examples, choice.weights, window_days)
            shipped_scores = score_examples(examples, DEFAULT_WEIGHTS, window_days)
            oracle = best_threshold(shipped_scores, gold)
            loso_predicted[(held, mode)] = [s >= choice.threshold for s in loso_scores]
            fold["modes"][mode] = {
                "pairs": len(examples),
                "positives": sum(gold),
                "loso": {"threshold": choice.threshold, **prf(loso_predicted[(held, mode)], gold)},
                "shipped": {
                    "threshold": DEFAULT_THRESHOLD,
                    **prf([s >= DEFAULT_THRESHOLD for s in shipped_scores], gold),
                },
                "oracle_threshold_on_this_shop": {
                    "threshold": round(oracle, 4),
                    **prf([s >= oracle for s in shipped_scores], gold),
                },
                "baseline_exact_email_or_order": prf([e.baseline for e in examples], gold),
                "errors_loso": [
                    {"a": e.a, "b": e.b, "duplicate": e.duplicate, "language": e.language, "score": s}
                    for e, s in zip(examples, loso_scores, strict=True)
                    if (s >= choice.threshold) != e.duplicate
                ],
            }
        folds.append(fold)
    log("choosing on all shops")
    overall = choose([data[(s, m)] for s in names for m in TAG_MODES], window_days, candidates)
    per_language: dict[str, Any] = {}
    for mode in TAG_MODES:
        examples = [e for s in names for e in data[(s, mode)]]
        shipped = [
            s >= DEFAULT_THRESHOLD
            for name in names
            for s in score_examples(data[(name, mode)], DEFAULT_WEIGHTS, window_days)
        ]
        loso = [p for name in names for p in loso_predicted[(name, mode)]]
        shipped_table = _per_language(examples, shipped)
        loso_table = _per_language(examples, loso)
        per_language[mode] = {
            language: {
                "pairs": row["pairs"],
                "positives": row["positives"],
                "shipped": {k: row[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")},
                "loso": {k: loso_table[language][k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")},
                "baseline_exact_email_or_order": row["baseline"],
            }
            for language, row in shipped_table.items()
        }
    return {
        "encoder": encoder,
        "window_days": window_days,
        "shops": names,
        "tag_modes": {
            "human": "tags as written in the shop's tickets",
            "auto": "human tags dropped: every ticket auto-tagged, no tagged history",
        },
        "grid": {k: list(v) for k, v in GRID.items()},
        "shipped": {"weights": asdict(DEFAULT_WEIGHTS), "threshold": DEFAULT_THRESHOLD},
        "chosen_on_all_shops": {
            "weights": asdict(overall.weights),
            "threshold": overall.threshold,
            "mean_f1": overall.mean_f1,
        },
        "shipped_matches_choice": overall.weights == DEFAULT_WEIGHTS
        and abs(overall.threshold - DEFAULT_THRESHOLD) < 1e-9,
        "folds": folds,
        "per_language": per_language,
        "load_seconds": round(load_seconds, 1),
    }


def store_threshold(runtime: Runtime, *, tenant_id: str, result: dict[str, Any], source: str) -> None:
    """Keeps the calibrated threshold for the tenant and encoder; the detector reads the newest one."""

    with runtime.session() as session:
        key_service.get_or_create_tenant(session, tenant_id=tenant_id)
        calibration.store_threshold(
            session,
            tenant_id=tenant_id,
            collection=COLLECTION,
            encoder=result["encoder"],
            threshold=result["threshold"],
            objective="max F1 over labelled duplicate pairs",
            metrics={
                "method": result["method"],
                "cross_validated": result["method_cross_validated"],
                "baseline": result["baseline_exact_email_or_order"],
            },
            source=source,
        )
