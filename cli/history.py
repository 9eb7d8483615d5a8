"""`deflect import orders|tickets`, `deflect history ...` and `deflect report ...`: the same services as the
API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cli.context import make_runtime
from core import keys as key_service
from core.errors import DeflectError
from history import service
from history.duplicates import duplicates_of
from history.identity import link_identity, unlink_identity
from replies import merge as merge_service
from runtime import Runtime

import_app = typer.Typer(help="Import orders and tickets.")
app = typer.Typer(
    help="Customer history: timelines, identity links, duplicates and merges.", no_args_is_help=True
)

console = Console()
err_console = Console(stderr=True)
TenantOption = Annotated[str, typer.Option(help="Tenant id")]
# ISO 8601 dates or times; a time without a zone is UTC, as in the API.
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]
ACTOR = "cli"


def _fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def _runtime() -> Runtime:
    runtime = make_runtime()
    runtime.migrate()
    return runtime


def _print_json(payload: object) -> None:
    console.print_json(json.dumps(payload, default=str, ensure_ascii=False))


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _compact_table(title: str | None = None) -> Table:
    # Wide reports: one space between columns and no side borders, so they fit 80 columns.
    return Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)


def _points(delta: float | None) -> str:
    return "-" if delta is None else f"{delta * 100:+.1f} pts"


def _import(path: Path, tenant: str, kind: str) -> None:
    """Parses the whole file first (a bad line rejects it), then writes it in one transaction."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            key_service.get_or_create_tenant(session, tenant_id=tenant)
            if kind == "orders":
                report = service.import_orders(
                    session, tenant_id=tenant, orders=service.parse_orders(path), file=str(path)
                )
            else:
                report = service.import_tickets(
                    session,
                    runtime.search,
                    tenant_id=tenant,
                    tickets=service.parse_tickets(path),
                    file=str(path),
                )
    except DeflectError as exc:
        _fail(exc.message)
    if kind == "tickets":
        runtime.search.catch_up(tenant, "tickets")
        runtime.search.save(tenant, "tickets")
    console.print(f"{path}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")


@import_app.command("orders")
def import_orders(
    path: Annotated[Path, typer.Argument(help="orders.jsonl")], tenant: TenantOption = "demo"
) -> None:
    """Imports orders with their items, shipment and refund; idempotent by order id."""
    _import(path, tenant, "orders")


@import_app.command("tickets")
def import_tickets(
    path: Annotated[Path, typer.Argument(help="tickets.jsonl")], tenant: TenantOption = "demo"
) -> None:
    """Imports past tickets, ties each to a customer and indexes them for duplicate detection."""
    _import(path, tenant, "tickets")


@app.command("show")
def show(
    customer_id: int,
    tenant: TenantOption = "demo",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A customer's unified timeline and linked identities."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            history = service.customer_timeline(session, tenant_id=tenant, customer_id=customer_id)
    except DeflectError as exc:
        _fail(exc.message)
    if as_json:
        _print_json(history.model_dump(mode="json"))
        return
    console.print(f"[bold]customer {history.customer_id}[/] {history.name}")
    identities = Table("id", "kind", "value", "why linked", "unlinked")
    for identity in history.identities:
        identities.add_row(
            str(identity.id), identity.kind, identity.value, identity.reason, str(identity.unlinked_at or "")
        )
    console.print(identities)
    events = Table("when", "kind", "channel", "ref", "summary")
    for event in history.events:
        events.add_row(
            event.at.strftime("%Y-%m-%d %H:%M"),
            event.kind,
            event.channel or "",
            event.ref,
            event.summary[:80],
        )
    console.print(events)


@app.command("link")
def link(
    identity: Annotated[int, typer.Option(help="Identity id")],
    customer: Annotated[int, typer.Option(help="Target customer id")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit)")],
    tenant: TenantOption = "demo",
) -> None:
    """Ties an identity and its contacts to another customer."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            linked = link_identity(
                session,
                tenant_id=tenant,
                identity_id=identity,
                customer_id=customer,
                actor=ACTOR,
                reason=reason,
            )
            new_id = linked.id
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"identity {identity} is now identity {new_id} of customer {customer}")


@app.command("unlink")
def unlink(
    identity: Annotated[int, typer.Option(help="Identity id")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit)")],
    tenant: TenantOption = "demo",
) -> None:
    """Splits an identity and its contacts off into a customer of their own."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            moved = unlink_identity(
                session, tenant_id=tenant, identity_id=identity, actor=ACTOR, reason=reason
            )
            new_id, customer_id = moved.id, moved.customer_id
    except DeflectError as exc:
        _fail(exc.message)
    console.print(
        f"identity {identity} unlinked; it continues as identity {new_id} of new customer {customer_id}"
    )


@app.command("duplicates")
def duplicates(
    ticket_id: str,
    tenant: TenantOption = "demo",
    min_score: Annotated[float | None, typer.Option(help="Default: calibrated threshold")] = None,
) -> None:
    """Likely duplicates of a ticket with scores and reasons."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            threshold, candidates = duplicates_of(
                session,
                runtime.search,
                tenant_id=tenant,
                ticket_id=ticket_id,
                window_days=runtime.settings.duplicate_window_days,
                min_score=min_score,
            )
    except DeflectError as exc:
        _fail(exc.message)
    table = Table("ticket", "channel", "score", "duplicate", "reasons")
    for c in candidates:
        table.add_row(
            c.ticket_id, c.channel, f"{c.score:.3f}", "yes" if c.is_duplicate else "no", "; ".join(c.reasons)
        )
    console.print(f"threshold {threshold:.3f}")
    console.print(table)


@app.command("merge")
def merge(
    ticket_ids: Annotated[list[str], typer.Argument(help="Two or more ticket ids")],
    reason: Annotated[str, typer.Option()] = "",
    tenant: TenantOption = "demo",
) -> None:
    """Merges tickets; prints the primary and the courtesy notes."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            group = merge_service.merge_tickets(
                session, tenant_id=tenant, ticket_ids=ticket_ids, actor=ACTOR, reason=reason
            )
            read = merge_service.to_read(session, group)
    except DeflectError as exc:
        _fail(exc.message)
    _print_json(read.model_dump(mode="json"))


@app.command("undo")
def undo(group_id: int, reason: Annotated[str, typer.Option()] = "", tenant: TenantOption = "demo") -> None:
    """Undoes a merge, restoring every ticket as it was."""

    runtime = _runtime()
    try:
        with runtime.session() as session:
            merge_service.undo_merge(session, tenant_id=tenant, group_id=group_id, actor=ACTOR, reason=reason)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"merge {group_id} undone")
