"""Evaluation commands mounted under `deflect eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.context import make_runtime, wiring
from cli.eval_commands import register
from core.errors import DeflectError
from core.reasons import EXAMPLES_PATH, load_examples
from core.settings import ROOT, get_settings
from embeddings.encoder import load_encoder
from eval import drafts as drafts_eval
from eval import duplicates as duplicates_eval
from eval import questions as questions_eval
from eval.compliance_eval import evaluate_compliance, load_compliance_cases
from eval.metrics import fmt3

app = typer.Typer()
DEMO_DIR = ROOT / "demo"


@app.command("drafts")
def drafts(
    requests: Annotated[Path, typer.Option(help="draft_requests.jsonl")] = DEMO_DIR / "draft_requests.jsonl",
    orders: Annotated[Path, typer.Option(help="orders.jsonl")] = DEMO_DIR / "orders.jsonl",
    articles: Annotated[Path, typer.Option(help="articles.jsonl")] = DEMO_DIR / "articles.jsonl",
    tickets: Annotated[
        Path | None, typer.Option(help="tickets.jsonl: the tenant's tagged past tickets (teach the head)")
    ] = None,
    shops: Annotated[
        list[Path] | None,
        typer.Option(
            help="A folder of development shops (repeat for several): every shop, then every language pooled"
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
    encoder: Annotated[str, typer.Option(help="Encoder for article search (a bundled model)")] = "use+minilm",
) -> None:
    """Drafts a reply for every request: fully answered, topic coverage, must-mention recall, invented facts,
    compliance, latency; the nearest-example classifier beside the head from the same run."""

    if shops:
        _drafts_shops(shops, encoder, json_out)
        return
    for path in (requests, orders, articles):
        if not path.exists():
            typer.echo(f"error: {path} does not exist", err=True)
            raise typer.Exit(2)
    try:
        result = drafts_eval.run(
            requests=requests,
            orders=orders,
            articles=articles,
            tickets=tickets,
            encoder=encoder,  # type: ignore[arg-type]
            encoders=wiring().encoders,
        )
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    baseline = result["baselines"].get(drafts_eval.BASELINE, {})
    typer.echo(f"{'':<26} {result['classifier']:<10} {drafts_eval.BASELINE} (baseline)")
    for name, value in result["summary"].items():
        if name != "by_locale":
            typer.echo(f"{name:<26} {value!s:<10} {baseline.get(name)}")
    _locale_rows(result["summary"]["by_locale"], baseline.get("by_locale", {}))
    _speed(result["speed"])


_DRAFT_COLUMNS = (
    ("fully_answered_rate", "full"),
    ("topic_coverage", "cover"),
    ("must_mention_recall", "must"),
    ("invented_facts", "inv"),
    ("compliance_pass_rate", "compl"),
    ("cited_page_precision", "page"),
)


def _cell(value: object) -> str:
    return "-" if value is None else str(value)  # a figure the set cannot give (no labelled pages)


def _row(label: str, head: dict[str, object], base: dict[str, object]) -> str:
    cells = "  ".join(f"{_cell(head.get(k)):>6}/{_cell(base.get(k)):<6}" for k, _ in _DRAFT_COLUMNS)
    return f"{label:<18} {head.get('requests')!s:>4}  {cells}"


def _header(first: str) -> None:
    typer.echo(
        f"{first:<18} {'n':>4}  " + "  ".join(f"{short + ' head/base':<13}" for _, short in _DRAFT_COLUMNS)
    )


def _locale_rows(head: dict[str, dict[str, object]], base: dict[str, dict[str, object]]) -> None:
    _header("language")
    for locale, row in head.items():
        typer.echo(_row(locale, row, base.get(locale, {})))


def _speed(speed: dict[str, object]) -> None:
    typer.echo(
        f"speed: draft p50 {speed['draft_ms_p50']} ms, bare article search p50 {speed['search_ms_p50']} ms, "
        f"ratio {speed['draft_over_search']}"
    )


def _drafts_shops(shops: list[Path], encoder: str, json_out: Path | None) -> None:
    folders: list[Path] = []
    for folder in shops:
        found = (
            sorted(p for p in folder.iterdir() if (p / "draft_requests.jsonl").exists())
            if folder.is_dir()
            else []
        )
        if not found:
            typer.echo(f"error: {folder} holds no shop with draft_requests.jsonl", err=True)
            raise typer.Exit(2)
        folders += found
    try:
        result = drafts_eval.run_shops(
            folders,
            encoder=encoder,  # type: ignore[arg-type]
            encoders=wiring().encoders,
            log=lambda name: typer.echo(f"{name}...", err=True),
            on_shop=lambda name, shop: typer.echo(
                f"{name}: " + _row("", shop["summary"], shop["baselines"].get(drafts_eval.BASELINE, {}))
            ),
        )
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    baseline = drafts_eval.BASELINE
    shipped = next(k for k in result["overall"] if k != baseline)
    typer.echo(f"head = {shipped} classifier (the service's), base = {baseline} (nearest examples), one run")
    _header("shop")
    for name, row in result["shops"].items():
        typer.echo(_row(name, row["summary"], row["baselines"].get(baseline, {})))
    typer.echo(_row("all", result["overall"][shipped], result["overall"][baseline]))
    _locale_rows(result["by_locale"][shipped], result["by_locale"][baseline])
    for name, row in result["shops"].items():
        typer.echo(f"{name}: ", nl=False)
        _speed(row["speed"])


@app.command("questions")
def questions(
    shops: Annotated[
        list[Path] | None,
        typer.Option(help="Folder of development shops (repeat for several; default devshops)"),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
    examples: Annotated[
        Path, typer.Option(help="Example phrasings per reason tag (try another file before shipping it)")
    ] = EXAMPLES_PATH,
) -> None:
    """Leave-one-shop-out: the drafts' question classifier (head) chosen on the other shops, scored on each
    held-out shop and language beside the nearest-example baseline."""
    folders = shops or [questions_eval.DEVSHOPS]
    found = [shop for folder in folders if folder.is_dir() for shop in questions_eval.dev_shops(folder)]
    if len(found) < 2:
        named = ", ".join(str(f) for f in folders)
        typer.echo(f"error: {named} hold fewer than two shops with draft requests", err=True)
        raise typer.Exit(2)
    try:
        load_examples(examples)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {examples}: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = get_settings()
    encoder = load_encoder(
        settings.resolved_article_encoder,
        batch_size=settings.encoder_batch_size,
        threads=settings.encoder_threads,
        precision=settings.encoder_precision,
    )
    result = questions_eval.run_loso(
        found, encoder, examples=examples, log=lambda step: typer.echo(f"{step}...", err=True)
    )
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    typer.echo("held-out shop: head (setting chosen on the other shops) / baseline (nearest examples)")
    typer.echo(
        f"{'shop':<14} {'n':>4}  {'fully detected':<15} {'topic recall':<15} {'extra/request':<15} chosen"
    )
    for fold in result["folds"]:
        typer.echo(_detect_row(fold["held_out"], fold["head"], fold["baseline"]) + f"  {fold['chosen']}")
    pooled = result["pooled"]
    typer.echo(_detect_row("all", pooled["head"], pooled["baseline"]))
    for locale, row in result["pooled_by_locale"]["head"].items():
        typer.echo(_detect_row(locale, row, result["pooled_by_locale"]["baseline"][locale]))
    typer.echo("ablation (each row chosen leave-one-shop-out within its mode and example source):")
    for label, row in result["ablation"].items():
        typer.echo(
            f"  {label:<30} fully detected {row['fully_detected']}  topic recall {row['topic_recall']}  "
            f"extra/request {row['extra_per_request']}"
        )
    typer.echo(f"chosen on all shops: {result['chosen_on_all_shops']}")
    typer.echo(
        f"shipped: {result['shipped']} ("
        + ("matches" if result["shipped_matches_choice"] else "DIFFERS FROM")
        + " the choice on all shops)"
    )


def _detect_row(label: str, head: dict[str, object], base: dict[str, object]) -> str:
    cells = "  ".join(
        f"{head.get(k)!s:>6}/{base.get(k)!s:<8}"
        for k in ("fully_detected", "topic_recall", "extra_per_request")
    )
    return f"{label:<18} {head.get('requests')!s:>4}  {cells}"


# retrieval, calibrate, run, bench and replay live in cli/eval_commands.py so this file stays small.
register(app)


@app.command("duplicates")
def duplicates(
    tickets: Annotated[Path, typer.Option(help="tickets.jsonl")] = DEMO_DIR / "tickets.jsonl",
    pairs: Annotated[Path, typer.Option(help="duplicate_pairs.jsonl")] = DEMO_DIR / "duplicate_pairs.jsonl",
    orders: Annotated[Path | None, typer.Option(help="orders.jsonl (identity resolution by order)")] = (
        DEMO_DIR / "orders.jsonl"
    ),
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
    encoder: Annotated[str, typer.Option(help="Encoder (a bundled model)")] = "use+minilm",
    store_tenant: Annotated[
        str | None, typer.Option(help="Store the calibrated threshold for this tenant")
    ] = None,
    without_tags: Annotated[bool, typer.Option(help="Drop human tags: every ticket is auto-tagged")] = False,
    loso: Annotated[
        bool,
        typer.Option(
            "--loso",
            help="Leave-one-shop-out over the shops in --shops: choose weights and threshold on all but "
            "one, score that one (ignores --tickets/--pairs/--orders)",
        ),
    ] = False,
    shops: Annotated[
        list[Path] | None,
        typer.Option(help="Folder of development shops for --loso (repeat for several; default devshops)"),
    ] = None,
) -> None:
    """Duplicate detection P/R/F1 and threshold, beside the exact e-mail/order baseline, in one run."""

    if loso:
        _duplicates_loso(shops or [duplicates_eval.DEVSHOPS], encoder, json_out)
        return
    try:
        result = duplicates_eval.run(
            tickets_path=tickets,
            pairs_path=pairs,
            orders_path=orders,
            encoder=encoder,
            encoders=wiring().encoders,
            window_days=get_settings().duplicate_window_days,
            without_tags=without_tags,
        )
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    typer.echo(
        f"{result['pairs']} pairs ({result['positives']} duplicates), encoder {result['encoder']}, "
        f"threshold {result['threshold']}"
    )
    for name in (
        "method",
        "method_cross_validated",
        "method_at_default_threshold",
        "baseline_exact_email_or_order",
    ):
        m = result[name]
        typer.echo(f"{name:<32} P {fmt3(m['precision'])}  R {fmt3(m['recall'])}  F1 {fmt3(m['f1'])}")
    for language, row in result["per_language_at_default_threshold"].items():
        typer.echo(
            f"  {language:<14} {row['pairs']:>3} pairs {row['positives']:>3} dup  "
            f"P {fmt3(row['precision'])}  R {fmt3(row['recall'])}  F1 {fmt3(row['f1'])}  "
            f"(baseline F1 {fmt3(row['baseline']['f1'])})"
        )
    if store_tenant:
        runtime = make_runtime()
        runtime.migrate()
        duplicates_eval.store_threshold(
            runtime, tenant_id=store_tenant, result=result, source=f"{tickets} + {pairs}"
        )
        typer.echo(f"stored threshold {result['threshold']} for tenant {store_tenant} ({result['encoder']})")


def _prf(m: dict[str, float]) -> str:
    return f"{m['precision']:.3f} {m['recall']:.3f} {m['f1']:.3f}"


def _duplicates_loso(shops: list[Path], encoder: str, json_out: Path | None) -> None:
    missing = [str(folder) for folder in shops if not folder.is_dir()]
    if missing:
        typer.echo(f"error: {', '.join(missing)} is not a folder", err=True)
        raise typer.Exit(2)
    folders = [shop for folder in shops for shop in duplicates_eval.dev_shops(folder)]
    if len(folders) < 2:
        named = ", ".join(str(folder) for folder in shops)
        typer.echo(f"error: {named} hold fewer than two shops with tickets and duplicate pairs", err=True)
        raise typer.Exit(2)
    try:
        result = duplicates_eval.run_loso(
            shops=folders,
            encoder=encoder,
            encoders=wiring().encoders,
            window_days=get_settings().duplicate_window_days,
            log=lambda step: typer.echo(f"{step}...", err=True),
        )
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    typer.echo(f"leave-one-shop-out over {', '.join(result['shops'])}; encoder {encoder}")
    typer.echo("tags: human = as written; auto = human tags dropped, every ticket auto-tagged")
    typer.echo("loso = weights and threshold chosen on the other shops (the honest number)")
    typer.echo("shipped = history/duplicates.py defaults (chosen on all shops, this one included)")
    typer.echo(
        "oracle = shipped weights, threshold tuned on the scored shop itself (a ceiling, not a result)"
    )
    header = (
        f"{'shop':<14} {'tags':<6} {'pairs':>5} {'dup':>4} | {'loso P R F1':<17} {'(t)':>6} | "
        f"{'shipped P R F1':<17} | {'oracle F1':>9} {'(t)':>6} | exact-match P R F1"
    )
    typer.echo(header)
    for fold in result["folds"]:
        for mode, row in fold["modes"].items():
            typer.echo(
                f"{fold['held_out']:<14} {mode:<6} {row['pairs']:>5} {row['positives']:>4} | "
                f"{_prf(row['loso']):<17} {row['loso']['threshold']:>6.3f} | {_prf(row['shipped']):<17} | "
                f"{row['oracle_threshold_on_this_shop']['f1']:>9.3f} "
                f"{row['oracle_threshold_on_this_shop']['threshold']:>6.3f} | "
                f"{_prf(row['baseline_exact_email_or_order'])}"
            )
    typer.echo("per language (held-out shops pooled)")
    typer.echo(
        f"{'language':<14} {'tags':<6} {'pairs':>5} {'dup':>4} | {'loso P R F1':<17} | "
        f"{'shipped P R F1':<17} | exact-match P R F1"
    )
    for mode, table in result["per_language"].items():
        for language, row in table.items():
            typer.echo(
                f"{language:<14} {mode:<6} {row['pairs']:>5} {row['positives']:>4} | "
                f"{_prf(row['loso']):<17} | {_prf(row['shipped']):<17} | "
                f"{_prf(row['baseline_exact_email_or_order'])}"
            )
    typer.echo("chosen per fold:")
    for fold in result["folds"]:
        typer.echo(f"  without {fold['held_out']}: {fold['chosen']}")
    chosen = result["chosen_on_all_shops"]
    typer.echo(f"chosen on all shops: {chosen['weights']} threshold {chosen['threshold']}")
    typer.echo(
        "shipped defaults "
        + ("match" if result["shipped_matches_choice"] else "DIFFER FROM")
        + " this choice"
    )


@app.command("compliance")
def compliance(
    cases: Annotated[Path, typer.Option(help="compliance_cases.jsonl")] = DEMO_DIR / "compliance_cases.jsonl",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
) -> None:
    """Per-rule precision/recall of the compliance checker beside a naive regex baseline, in one run."""

    try:
        result = evaluate_compliance(load_compliance_cases(cases))
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    for system, metrics in result["systems"].items():
        micro = metrics["micro"]
        typer.echo(f"{system:<12} P {micro['precision']:.3f}  R {micro['recall']:.3f}  F1 {micro['f1']:.3f}")
