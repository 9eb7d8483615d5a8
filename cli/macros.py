"""`deflect macros`: list, show and change locked macros (a change is always a new version)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from cli.context import make_runtime
from core.errors import DeflectError
from replies import macros
from runtime import Runtime

app = typer.Typer(
    help="Locked reply macros: agents use them, admins change them (every change is a new version).",
    no_args_is_help=True,
)
console = Console()
TenantOption = Annotated[str, typer.Option(help="Tenant id")]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _runtime() -> Runtime:
    runtime = make_runtime()
    runtime.migrate()
    return runtime


@app.command("list")
def list_cmd(
    tenant: TenantOption = "demo",
    key: Annotated[str | None, typer.Option()] = None,
    locale: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Every macro with its current version."""
    with _runtime().session() as session:
        rows = macros.list_(session, tenant_id=tenant, key=key, locale=locale)
        table = Table("key", "channel", "locale", "version", "by", "text")
        for macro, version in rows:
            table.add_row(
                macro.key,
                macro.channel,
                macro.locale,
                str(version.version),
                version.created_by,
                version.body[:60].replace("\n", " "),
            )
    console.print(table)


@app.command("show")
def show(
    key: str,
    channel: Annotated[str, typer.Option()] = "*",
    locale: Annotated[str, typer.Option()] = "en",
    tenant: TenantOption = "demo",
) -> None:
    """One macro with every version."""
    try:
        with _runtime().session() as session:
            detail = macros.to_detail(
                macros.get(session, tenant_id=tenant, key=key, channel=channel, locale=locale)
            )
    except DeflectError as exc:
        _fail(exc.message)
    for version in detail.versions:
        marker = " (current)" if version.version == detail.version else ""
        console.print(
            f"[bold]v{version.version}{marker}[/] by {version.created_by} "
            f"at {version.created_at:%Y-%m-%d %H:%M}"
        )
        console.print(version.body, markup=False)


@app.command("set")
def set_cmd(
    key: str,
    body_file: Annotated[Path, typer.Argument(help="File with the new Jinja2 template text")],
    channel: Annotated[str, typer.Option()] = "*",
    locale: Annotated[str, typer.Option()] = "en",
    note: Annotated[str, typer.Option()] = "",
    author: Annotated[str, typer.Option()] = "cli",
    tenant: TenantOption = "demo",
) -> None:
    """Saves a new version of a macro after checking it in the sandbox (runs as an admin on this machine)."""
    try:
        body = body_file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"{body_file}: {exc.strerror}")
    try:
        with _runtime().session() as session:
            version = macros.save_version(
                session,
                tenant_id=tenant,
                key=key,
                channel=channel,
                locale=locale,
                body=body,
                created_by=author,
                note=note,
            )
            number = version.version
    except DeflectError as exc:
        _fail(f"{body_file}: {exc.message}")
    console.print(f"{key} ({channel}, {locale}) is now at version {number}")
