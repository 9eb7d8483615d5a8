"""`deflect eval run --config eval.yaml --out DIR`: every evaluation of a config, one report.

Config (YAML; relative paths resolve against the repository root, so the shipped configs read
`../shared/data` in place):

    name: BANKING77
    retrieval:
      tickets: ../shared/data/banking77/tickets.jsonl     # and/or articles: ...
      queries: ../shared/data/banking77/queries.jsonl
      calibrate_on: null                                  # a separate labelled file, never the test file
      encoders: [use+minilm, minilm]                      # first = ours; others add hybrid/dense columns
      ablations: true                                     # hybrid without label head, dense with head
    duplicates: {tickets: demo/tickets.jsonl, pairs: demo/duplicate_pairs.jsonl, orders: demo/orders.jsonl}
    compliance: {cases: demo/compliance_cases.jsonl}
    drafts: {requests: demo/draft_requests.jsonl, orders: demo/orders.jsonl, articles: demo/articles.jsonl}

Sections whose evaluation module is not installed are skipped with a note.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidInputError
from core.settings import ROOT, get_settings
from embeddings.encoder import EncoderLoader, load_encoder
from eval import report
from eval.datasets import read_articles, read_queries, read_tickets
from eval.engines import make_engine
from eval.metrics import threshold_curve
from eval.retrieval import (
    CALIBRATION_K,
    RECALL_KS,
    RetrievalRun,
    SystemResult,
    SystemSpec,
    build_corpus,
    evaluate,
    hit_at,
)
from kb.tuning import encoder_parts, global_model

Progress = Callable[[str, int, int], None]
KNOWN_SECTIONS = ("name", "retrieval", "duplicates", "compliance", "drafts")
# Plain values beside the sections: `shop` names a development shop for `deflect eval loso`.
KNOWN_KEYS = (*KNOWN_SECTIONS, "shop")


@dataclass
class Config:
    name: str
    retrieval: dict[str, Any] | None
    duplicates: dict[str, Any] | None
    compliance: dict[str, Any] | None
    drafts: dict[str, Any] | None
    source: Path
    raw: dict[str, Any] = field(default_factory=dict)


def resolve(path: str | None, base: Path = ROOT) -> Path | None:
    if path is None:
        return None
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def load_config(path: Path) -> Config:
    """Parses and checks a config; every referenced file must exist before anything runs."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"{path}: cannot read config: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path}: the config must be a mapping")
    unknown = set(raw) - set(KNOWN_KEYS)
    if unknown:
        raise InvalidInputError(
            f"{path}: unknown section(s) {sorted(unknown)}; known: {list(KNOWN_SECTIONS)}"
        )
    missing: list[str] = []
    for section in KNOWN_SECTIONS[1:]:
        spec = raw.get(section)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise InvalidInputError(f"{path}: section {section!r} must be a mapping")
        for key, value in spec.items():
            if key in ("encoders", "ablations", "min_in_scope", "without_tags"):
                continue
            resolved = resolve(value) if isinstance(value, str) else None
            if resolved is None and value is not None:
                raise InvalidInputError(f"{path}: {section}.{key} must be a file path")
            if resolved is not None and not resolved.exists():
                missing.append(f"{section}.{key}: {resolved}")
    if missing:
        raise InvalidInputError(f"{path}: missing files: " + "; ".join(missing))
    retrieval = raw.get("retrieval")
    if retrieval is not None and (
        not retrieval.get("queries") or not (retrieval.get("tickets") or retrieval.get("articles"))
    ):
        raise InvalidInputError(f"{path}: retrieval needs queries and tickets and/or articles")
    return Config(
        name=str(raw.get("name") or path.stem),
        retrieval=retrieval,
        duplicates=raw.get("duplicates"),
        compliance=raw.get("compliance"),
        drafts=raw.get("drafts"),
        source=path,
        raw=raw,
    )


# -- retrieval ----------------------------------------------------------------------


def run_retrieval(
    spec: dict[str, Any], progress: Progress | None = None, encoders: EncoderLoader = load_encoder
) -> tuple[dict[str, Any], list[RetrievalRun]]:
    """Ours, dense, BM25 (+ ablations) with the first encoder; hybrid and dense for each other encoder."""

    queries = read_queries(resolve(spec["queries"]))  # type: ignore[arg-type]
    articles = read_articles(resolve(spec["articles"])) if spec.get("articles") else []  # type: ignore[arg-type]
    tickets = read_tickets(resolve(spec["tickets"])) if spec.get("tickets") else []  # type: ignore[arg-type]
    calibrate_on = read_queries(resolve(spec["calibrate_on"])) if spec.get("calibrate_on") else None  # type: ignore[arg-type]
    # None: the service's configured one.
    encoder_names: list[str | None] = list(spec.get("encoders") or [None])
    min_in_scope = float(spec.get("min_in_scope", 0.95))
    runs: list[RetrievalRun] = []
    systems: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for index, encoder_name in enumerate(encoder_names):
        engine = make_engine(encoder_name, articles=bool(articles) and not tickets, encoders=encoders)
        started = time.perf_counter()
        corpus = build_corpus(engine, articles=articles, tickets=tickets, progress=progress)
        timings[f"index_seconds@{corpus.collection.encoder.name}"] = round(time.perf_counter() - started, 2)
        if index == 0:
            specs = [
                SystemSpec("hybrid", "hybrid"),
                SystemSpec("dense", "dense", label_head=False),
                SystemSpec("bm25", "bm25", label_head=False),
            ]
            if corpus.has_articles and global_model(encoder_parts(corpus.collection)) is not None:
                # The shipped learned ranker, where the index has the encoder parts it was trained on.
                specs.insert(1, SystemSpec("learned", "hybrid", label_head=False, learned=True))
            label_queries = any(q.label and not q.relevant for q in queries)
            if spec.get("ablations", True) and corpus.head is not None and label_queries:
                specs += [
                    SystemSpec("hybrid-no-head", "hybrid", label_head=False),
                    SystemSpec("dense+head", "dense", label_head=True),
                ]
        else:
            name = corpus.collection.encoder.name
            specs = [
                SystemSpec(f"hybrid@{name}", "hybrid"),
                SystemSpec(f"dense@{name}", "dense", label_head=False),
            ]
        # Articles abstain on the shipped per-language cut-offs (None), as the widget does; tickets on
        # the default threshold.
        threshold = None if calibrate_on or corpus.has_articles else _default_threshold()
        run = evaluate(
            engine,
            queries=queries,
            calibrate_on=calibrate_on,
            stored_threshold=threshold,
            systems=specs,
            min_in_scope=min_in_scope,
            progress=progress,
            corpus=corpus,
        )
        for result in run.results:
            systems[result.spec.name] = {
                "encoder": corpus.collection.encoder.name,
                "mode": result.spec.mode,
                "label_head": result.spec.label_head and result.spec.mode != "bm25",
                **result.metrics,
            }
        calibration.update(run.calibration)
        runs.append(run)
    merged = RetrievalRun(results=[r for run in runs for r in run.results], calibration=calibration)
    payload = merged.to_json()
    payload["calibration"] = {
        name: {k: v for k, v in c.items() if k != "curve"} for name, c in calibration.items()
    }
    payload["systems"] = systems
    payload["timings"] = timings
    payload["queries"] = len(queries)
    return payload, [merged]


def _default_threshold() -> float:

    return get_settings().default_abstain_threshold


def retrieval_sections(payload: dict[str, Any], run: RetrievalRun) -> list[tuple[str, str]]:
    systems = payload["systems"]
    columns = [
        "system",
        "encoder",
        "recall@1",
        "recall@3",
        "recall@5",
        "recall@10",
        "mrr@10",
        "ndcg@10",
        "label_accuracy",
    ]
    rows = [[name, m["encoder"], *[m.get(c) for c in columns[2:]]] for name, m in systems.items()]
    ci_rows = [
        [
            name,
            *[
                f"[{lo:.3f}, {hi:.3f}]"
                for lo, hi in (
                    m.get("ci95", {}).get(k, (float("nan"),) * 2) for k in ("recall@1", "recall@3")
                )
            ],
        ]
        for name, m in systems.items()
    ]
    curves = {
        name: [(float(k), m[f"recall@{k}"]) for k in RECALL_KS if f"recall@{k}" in m]
        for name, m in systems.items()
    }
    retrieval_html = (
        report.table(columns, rows)
        + "<p class=note>Ranking metrics over in-scope queries. 95 % bootstrap intervals (500 resamples):</p>"
        + report.table(["system", "recall@1 CI", "recall@3 CI"], ci_rows)
        + report.line_chart("recall@k", curves, x_label="k", y_label="recall@k")
    )
    abst_columns = [
        "system",
        "threshold",
        "abstention_precision",
        "abstention_recall",
        "in_scope_kept",
        f"in_scope_recall@{CALIBRATION_K}_after_abstention",
    ]
    abst_rows = [[name, *[m.get(c) for c in abst_columns[1:]]] for name, m in systems.items()]
    abstention_html = report.table(abst_columns, abst_rows)
    calibration = payload.get("calibration") or {}
    if calibration:
        abstention_html += (
            "<p class=note>Thresholds chosen on the calibration file only: "
            + report._esc(next(iter(calibration.values()))["objective"])
            + ".</p>"
        )
    ours = next((r for r in run.results if r.spec.name == "hybrid"), None)
    if ours is not None:
        abstention_html += _abstention_plots(ours, run.calibration.get("hybrid"))
    sections = [("Retrieval", retrieval_html), ("Abstention", abstention_html)]
    slices_html = ""
    for dimension, values in payload.get("slices", {}).items():
        if not values:
            continue
        categories = list(values)
        names = [n for n in systems if n in ("hybrid", "dense", "bm25")]
        series = {n: [values[c][n].get("recall@3") for c in categories] for n in names}
        slices_html += report.bar_chart(f"recall@3 per {dimension}", categories, series, y_label="recall@3")
        slice_rows = [
            [
                c,
                n,
                values[c][n]["queries"],
                values[c][n].get("recall@1"),
                values[c][n].get("recall@3"),
                values[c][n].get("abstention_recall"),
                values[c][n].get("in_scope_kept"),
            ]
            for c in categories
            for n in names
        ]
        slices_html += report.table(
            [dimension, "system", "queries", "recall@1", "recall@3", "abstention_recall", "in_scope_kept"],
            slice_rows,
        )
    if slices_html:
        sections.append(("Per locale and channel", slices_html))
    return sections


def _abstention_plots(result: SystemResult, calibration: dict[str, Any] | None) -> str:
    in_scope = [o.confidence for o in result.outcomes if not o.query.out_of_scope]
    oos = [o.confidence for o in result.outcomes if o.query.out_of_scope]
    marker = (result.threshold, f"threshold {result.threshold:.3f}") if result.threshold is not None else None
    out = report.histogram(
        "ours: confidence of in-scope vs out-of-scope test queries",
        {"in scope": in_scope, "out of scope": oos} if oos else {"in scope": in_scope},
        marker=marker,
    )
    if calibration:
        curve = calibration["curve"]
        out += report.line_chart(
            "calibration set: trade-off vs threshold (chosen point marked)",
            {
                "out-of-scope abstained": [(p["threshold"], p["oos_abstained"]) for p in curve],
                "in-scope kept": [(p["threshold"], p["in_scope_kept"]) for p in curve],
                f"in-scope recall@{CALIBRATION_K}": [(p["threshold"], p["in_scope_recall"]) for p in curve],
            },
            x_label="threshold",
            y_label="share",
            y_range=(0.0, 1.0),
            marker=marker,
        )
    elif oos:
        hits = [hit_at(o, CALIBRATION_K) for o in result.outcomes]
        curve_points = threshold_curve(
            [o.confidence for o in result.outcomes],
            [o.query.out_of_scope for o in result.outcomes],
            hits,
            points=100,
        )
        out += report.line_chart(
            "test set: trade-off vs threshold (no calibration file; stored threshold marked)",
            {
                "out-of-scope abstained": [(p.threshold, p.oos_abstained) for p in curve_points],
                "in-scope kept": [(p.threshold, p.in_scope_kept) for p in curve_points],
            },
            x_label="threshold",
            y_label="share",
            y_range=(0.0, 1.0),
            marker=marker,
        )
    return out


# -- other helpers' evaluations ---------------------------------------------------------


def _optional(module_name: str) -> Any | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None


def run_duplicates(
    spec: dict[str, Any], encoder: str, encoders: EncoderLoader = load_encoder
) -> dict[str, Any] | None:
    module = _optional("eval.duplicates")
    if module is None:
        return None

    result: dict[str, Any] = module.run(
        tickets_path=resolve(spec["tickets"]),
        pairs_path=resolve(spec["pairs"]),
        orders_path=resolve(spec.get("orders")),
        encoder=spec.get("encoder", encoder),
        encoders=encoders,
        window_days=get_settings().duplicate_window_days,
        without_tags=bool(spec.get("without_tags", False)),
    )
    return result


def duplicates_section(result: dict[str, Any]) -> str:
    names = [
        n
        for n in (
            "method",
            "method_cross_validated",
            "method_at_default_threshold",
            "baseline_exact_email_or_order",
        )
        if n in result
    ]
    rows = [[n, result[n].get("precision"), result[n].get("recall"), result[n].get("f1")] for n in names]
    chart = report.bar_chart(
        "duplicates: precision / recall / F1",
        ["precision", "recall", "f1"],
        {n: [result[n].get(k) for k in ("precision", "recall", "f1")] for n in names},
        y_label="value",
    )
    return (
        f"<p>{result.get('pairs')} labelled pairs ({result.get('positives')} duplicates), encoder "
        f"{report._esc(result.get('encoder'))}, threshold {result.get('threshold')}.</p>"
        + report.table(["system", "precision", "recall", "f1"], rows)
        + chart
    )


def run_compliance(spec: dict[str, Any]) -> dict[str, Any] | None:
    module = _optional("eval.compliance_eval")
    if module is None:
        return None
    cases = module.load_compliance_cases(resolve(spec["cases"]))
    result: dict[str, Any] = module.evaluate_compliance(cases)
    return result


def compliance_section(result: dict[str, Any]) -> str:
    out = f"<p>{result.get('cases')} cases.</p>"
    systems = result.get("systems", {})
    rules = sorted({rule for s in systems.values() for rule in s.get("per_rule", {})})
    for name, system in systems.items():
        rows = []
        for rule in rules:
            r = system["per_rule"].get(rule, {})
            c = r.get("confusion", {})
            rows.append(
                [
                    rule,
                    r.get("support"),
                    c.get("tp"),
                    c.get("fp"),
                    c.get("fn"),
                    c.get("tn"),
                    r.get("precision"),
                    r.get("recall"),
                    r.get("f1"),
                ]
            )
        micro = system.get("micro", {})
        out += (
            f"<h3>{report._esc(name)}</h3><p>micro P {report._fmt(micro.get('precision'))}, R "
            f"{report._fmt(micro.get('recall'))}; case pass accuracy "
            f"{report._fmt(system.get('case_pass_accuracy'))}</p>"
            + report.table(["rule", "support", "tp", "fp", "fn", "tn", "precision", "recall", "f1"], rows)
        )
    out += report.bar_chart(
        "compliance recall per rule",
        rules,
        {n: [s["per_rule"].get(r, {}).get("recall") for r in rules] for n, s in systems.items()},
        y_label="recall",
    )
    return out


def run_drafts(
    spec: dict[str, Any], encoder: str, encoders: EncoderLoader = load_encoder
) -> dict[str, Any] | None:
    module = _optional("eval.drafts")
    if module is None:
        return None
    result: dict[str, Any] = module.run(
        requests=resolve(spec["requests"]),
        orders=resolve(spec["orders"]),
        articles=resolve(spec["articles"]),
        encoder=spec.get("encoder", encoder),
        encoders=encoders,
    )
    return result


def drafts_section(result: dict[str, Any]) -> str:
    summary = result.get("summary", {})
    return report.table(["metric", "value"], [[k, v] for k, v in summary.items()])


# -- the run ------------------------------------------------------------------------------


def run(
    config: Config,
    out_dir: Path,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda _: None,
    encoders: EncoderLoader = load_encoder,
) -> dict[str, Any]:
    """Runs every section, writes results.json and report.html into out_dir, returns the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"name": config.name, "config": str(config.source), "sections": {}}
    sections: list[tuple[str, str]] = []

    primary_encoder = ((config.retrieval or {}).get("encoders") or [get_settings().encoder])[0]
    if config.retrieval:
        log("retrieval")
        payload, runs = run_retrieval(config.retrieval, progress, encoders)
        results["sections"]["retrieval"] = payload
        sections += retrieval_sections(payload, runs[0])
    for name, runner, render in (
        ("duplicates", lambda s: run_duplicates(s, primary_encoder, encoders), duplicates_section),
        ("compliance", run_compliance, compliance_section),
        ("drafts", lambda s: run_drafts(s, primary_encoder, encoders), drafts_section),
    ):
        spec = getattr(config, name)
        if not spec:
            continue
        log(name)
        section_result = runner(spec)
        if section_result is None:
            sections.append(
                (name.capitalize(), f"<p class=note>eval.{name} is not installed in this build.</p>")
            )
            continue
        results["sections"][name] = section_result
        sections.append((name.capitalize(), render(section_result)))
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (out_dir / "report.html").write_text(
        report.page(f"Deflect evaluation: {config.name}", sections, results), encoding="utf-8"
    )
    return results
