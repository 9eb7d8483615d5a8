"""`deflect compliance ...`: check reply texts from a file against a channel's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from compliance.schemas import ComplianceResult
from compliance.service import check
from core.errors import InvalidInputError
from core.jsonl import read_jsonl_numbered
from core.schemas import CHANNELS

app = typer.Typer(help="Check replies against marketplace messaging rules.", no_args_is_help=True)
_out = Console()


@app.callback()
def compliance_group() -> None:
    """Check replies against marketplace messaging rules."""


def _read_jsonl(path: Path, default_channel: str | None) -> list[tuple[str, str, str]]:
    def parse(record: dict[str, Any], line: int) -> tuple[str, str, str]:
        text = record.get("text")
        channel = record.get("channel") or default_channel
        if not isinstance(text, str) or not text.strip():
            raise ValueError("'text' must be a non-empty string")
        if channel not in CHANNELS:
            raise ValueError(f"'channel' must be one of {', '.join(CHANNELS)}")
        return str(record.get("id", f"line-{line}")), channel, text

    return read_jsonl_numbered(path, parse)


def _load(path: Path, channel: str | None) -> list[tuple[str, str, str]]:
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    try:
        if path.suffix == ".jsonl":
            return _read_jsonl(path, channel)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if channel is None:
        raise InvalidInputError(f"{path}: --channel is required for a plain text file")
    if not text.strip():
        raise InvalidInputError(f"{path}: the file is empty")
    return [(path.name, channel, text)]


def _print(item_id: str, result: ComplianceResult) -> None:
    status = (
        "[green]passed[/]"
        if result.passed
        else ("[red]blocked[/]" if result.blocking else "[yellow]fixed[/]")
    )
    _out.print(f"[bold]{item_id}[/] ({result.channel}, rules {result.ruleset_version}): {status}")
    if not result.violations:
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("rule", "span", "text", "fix"):
        table.add_column(column, no_wrap=column != "text")
    table.add_column("explanation")
    for violation in result.violations:
        table.add_row(
            violation.rule,
            f"{violation.start}-{violation.end}",
            Text(violation.text),
            "auto" if violation.fixable else "[red]agent[/]",
            Text(violation.explanation),
        )
    _out.print(table)
    if any(v.fixable for v in result.violations):
        _out.print("[bold]fixed text:[/]")
        _out.print(result.fixed_text, markup=False, highlight=False)


@app.command("check")
def check_command(
    file: Annotated[
        Path, typer.Argument(help='A text file, or a .jsonl of {"id", "channel", "text"} lines.')
    ],
    channel: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(CHANNELS)}; default for .jsonl lines without one.")
    ] = None,
    locale: Annotated[
        str | None, typer.Option(help="Reply language (en, fr, de, es, it); guessed if omitted.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON Lines.")] = False,
) -> None:
    """Check replies; exit status 1 when any reply has a violation that blocks sending."""
    try:
        if channel is not None and channel not in CHANNELS:
            raise InvalidInputError(f"--channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        items = _load(file, channel)
        results = [
            (item_id, check(text, channel=item_channel, locale=locale))
            for item_id, item_channel, text in items
        ]
    except InvalidInputError as exc:
        # Plain echo: a wrapped "file:line: reason" could not be grepped or clicked.
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc
    for item_id, result in results:
        if as_json:
            typer.echo(json.dumps({"id": item_id, **result.model_dump()}, ensure_ascii=False))
        else:
            _print(item_id, result)
    if any(result.blocking for _, result in results):
        raise typer.Exit(code=1)
