"""Evaluation commands mounted under `deflect eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.errors import DeflectError
from core.runtime import ROOT

app = typer.Typer()
DEMO_DIR = ROOT / "demo"


@app.command("drafts")
def drafts(
    requests: Annotated[Path, typer.Option(help="draft_requests.jsonl")] = DEMO_DIR / "draft_requests.jsonl",
    orders: Annotated[Path, typer.Option(help="orders.jsonl")] = DEMO_DIR / "orders.jsonl",
    articles: Annotated[Path, typer.Option(help="articles.jsonl")] = DEMO_DIR / "articles.jsonl",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full results here")] = None,
    encoder: Annotated[str, typer.Option(help="Encoder for article search (hashing = no model)")] = "use+minilm",
) -> None:
    """Drafts a reply for every request: topic coverage, must-mention recall, invented facts, compliance, latency."""
    from eval.drafts import run

    for path in (requests, orders, articles):
        if not path.exists():
            typer.echo(f"error: {path} does not exist", err=True)
            raise typer.Exit(2)
    try:
        result = run(requests=requests, orders=orders, articles=articles, encoder=encoder)  # type: ignore[arg-type]
    except DeflectError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, value in result["summary"].items():
        typer.echo(f"{name:<26} {value}")
