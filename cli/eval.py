"""Evaluation commands mounted under `deflect eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.eval_commands import register
from core.errors import DeflectError
from core.settings import ROOT, get_settings
from eval import drafts as drafts_eval
from eval import duplicates as duplicates_eval
from eval.compliance_eval import evaluate_compliance, load_compliance_cases

app = typer.Typer()
DEMO_DIR = ROOT / "demo"


@app.command("drafts")
def drafts(
    requests: Annotated[Path, typer.Option(help="draft_requests.jsonl")] = DEMO_DIR / "draft_requests.jsonl",
    orders: Annotated[Path, typer.Option(help="orders.jsonl")] = DEMO_DIR / "orders.jsonl",
    articles: Annotated[Path, typer.Option(help="articles.jsonl")] = DEMO_DIR / "articles.jsonl",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
    encoder: Annotated[
        str, typer.Option(help="Encoder for article search (hashing = no model)")
    ] = "use+minilm",
) -> None:
    """Drafts a reply for every request: topic coverage, must-mention recall, invented facts, compliance,
    latency."""

    for path in (requests, orders, articles):
        if not path.exists():
            typer.echo(f"error: {path} does not exist", err=True)
            raise typer.Exit(2)
    try:
        result = drafts_eval.run(requests=requests, orders=orders, articles=articles, encoder=encoder)  # type: ignore[arg-type]
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, value in result["summary"].items():
        typer.echo(f"{name:<26} {value}")


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
    encoder: Annotated[str, typer.Option(help="Encoder (hashing = no model)")] = "use+minilm",
    store_tenant: Annotated[
        str | None, typer.Option(help="Store the calibrated threshold for this tenant")
    ] = None,
    without_tags: Annotated[bool, typer.Option(help="Drop human tags: every ticket is auto-tagged")] = False,
) -> None:
    """Duplicate detection P/R/F1 and threshold, beside the exact e-mail/order baseline, in one run."""

    try:
        result = duplicates_eval.run(
            tickets_path=tickets,
            pairs_path=pairs,
            orders_path=orders,
            encoder=encoder,
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
        typer.echo(f"{name:<32} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}")
    if store_tenant:
        from runtime import Runtime

        runtime = Runtime(get_settings())
        runtime.migrate()
        duplicates_eval.store_threshold(
            runtime, tenant_id=store_tenant, result=result, source=f"{tickets} + {pairs}"
        )
        typer.echo(f"stored threshold {result['threshold']} for tenant {store_tenant} ({result['encoder']})")


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
