"""`deflect import orders|tickets`, `deflect history ...` and `deflect report ...`: the same services as the API."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from core import keys as key_service
from core.errors import DeflectError
from core.runtime import Runtime
from core.settings import get_settings

import_app = typer.Typer(help="Import orders and tickets.")
app = typer.Typer(
    help="Customer history: timelines, identity links, duplicates and merges.", no_args_is_help=True
)
report_app = typer.Typer(
    help="Insight reports: repeat contacts, top reasons, root causes, impact, content gaps, KB audit.",
    no_args_is_help=True,
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
    runtime = Runtime(get_settings())
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
    from history import service

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
    from history import service

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
    from history.identity import link_identity

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
    from history.identity import unlink_identity

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
    from history.duplicates import duplicates_of

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
    from history import merge as merge_service

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
    from history import merge as merge_service

    runtime = _runtime()
    try:
        with runtime.session() as session:
            merge_service.undo_merge(session, tenant_id=tenant, group_id=group_id, actor=ACTOR, reason=reason)
    except DeflectError as exc:
        _fail(exc.message)
    console.print(f"merge {group_id} undone")


@report_app.command("repeat-contacts")
def repeat_contacts(
    tenant: TenantOption = "demo",
    within_days: Annotated[int | None, typer.Option(help="Default: DEFLECT_REPEAT_CONTACT_DAYS")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Repeat-contact rate per reason and per channel."""
    from history import reports

    runtime = _runtime()
    with runtime.session() as session:
        report = reports.repeat_contacts(
            session, tenant_id=tenant, within_days=within_days or runtime.settings.repeat_contact_days
        )
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    console.print(
        f"repeat contacts within {report.within_days} days: "
        f"{report.overall.repeats}/{report.overall.tickets} = {report.overall.rate:.1%}"
    )
    for title, rows in (("reason", report.by_reason), ("channel", report.by_channel)):
        table = Table(title, "tickets", "repeats", "rate")
        for row in rows:
            table.add_row(row.key, str(row.tickets), str(row.repeats), f"{row.rate:.1%}")
        console.print(table)


@report_app.command("top-reasons")
def top_reasons(
    tenant: TenantOption = "demo", as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Top five contact reasons per channel over the last 30, 60 and 90 days."""
    from history import reports

    runtime = _runtime()
    with runtime.session() as session:
        report = reports.top_reasons(session, tenant_id=tenant)
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    for period, channels in report.periods.items():
        table = Table("channel", f"top reasons, last {period}")
        for channel, reasons in channels.items():
            table.add_row(
                channel,
                ", ".join(
                    f"{r.reason} {r.count}" + (f" ({r.auto_tagged} auto)" if r.auto_tagged else "")
                    for r in reasons
                ),
            )
        console.print(table)


@report_app.command("kb-audit")
def kb_audit(
    tenant: TenantOption = "demo",
    only_failing: Annotated[bool, typer.Option("--failing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Compliance of every marketplace-scoped help article, per channel; exits 1 on a blocking one not overridden."""
    from kb import audit

    runtime = _runtime()
    with runtime.session() as session:
        report = audit.audit(session, tenant_id=tenant, only_failing=only_failing)
    if as_json:
        _print_json(report.model_dump(mode="json"))
    else:
        console.print(
            f"{report.articles_checked} marketplace articles, {report.checks} checks: "
            f"{report.failing} failing, {report.blocking} blocking"
        )
        table = Table("article", "channel", "result", "violations")
        for r in report.results:
            verdict = "BLOCKING" if r.blocking else "warn" if not r.passed else "ok"
            if r.override:
                verdict += f" (override: {r.override.reason[:40]})"
            table.add_row(
                r.article_id, r.channel, verdict, "; ".join(f"{v.rule}: {v.text[:50]}" for v in r.violations)
            )
        console.print(table)
    if any(r.blocking and r.override is None for r in report.results):
        raise typer.Exit(1)


@report_app.command("content-gaps")
def content_gaps(
    tenant: TenantOption = "demo",
    days: Annotated[int, typer.Option(min=1, max=366)] = 30,
    distance: Annotated[float, typer.Option(help="Cosine distance threshold of the clustering")] = 0.5,
    min_size: Annotated[int, typer.Option(min=1)] = 2,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clusters of recent questions the help centre does not answer, most preventable contacts first."""
    from kb import gaps
    from kb.suggest import abstain_threshold

    runtime = _runtime()
    search = runtime.search
    search.catch_up(tenant, "articles")
    try:
        with runtime.session() as session:
            threshold = abstain_threshold(
                session,
                tenant_id=tenant,
                encoder=search.encoder_for("articles").name,
                default=runtime.settings.default_abstain_threshold,
            )
            report = gaps.content_gaps(
                session,
                search,
                tenant_id=tenant,
                threshold=threshold,
                days=days,
                distance=distance,
                min_size=min_size,
                limit=limit,
            )
    except DeflectError as exc:
        _fail(exc.message)
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    console.print(
        f"{report.candidates} unanswered questions since {report.since:%Y-%m-%d}, "
        f"{len(report.clusters)} clusters ({report.unclustered} in smaller ones)"
    )
    table = Table("contacts", "size", "trend", "channels", "reason", "nearest article", "example")
    for c in report.clusters:
        trend = f"{c.earlier}→{c.recent}"
        nearest = f"{c.nearest_article.id} {c.nearest_article.score:.2f}" if c.nearest_article else "-"
        table.add_row(
            str(c.contacts),
            str(c.size),
            trend,
            ", ".join(f"{k} {v}" for k, v in c.channels.items()),
            c.suggested_reason,
            nearest,
            c.examples[0].text[:70] if c.examples else "",
        )
    console.print(table)


@report_app.command("root-causes")
def root_causes(
    tenant: TenantOption = "demo",
    days: Annotated[int | None, typer.Option(help="Only this period: 30, 60 or 90 (default all)")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel's rows ('all' = totals)")] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=DATE_FORMATS, help="End of the periods; default now")
    ] = None,
    within_days: Annotated[
        int | None, typer.Option(min=1, max=90, help="Repeat window; default DEFLECT_REPEAT_CONTACT_DAYS")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout, as the API's format=csv")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Root-cause table per reason and channel (30/60/90 days), the lead's notes included.

    Volume, share, repeat and first-contact resolution, handling time, top SKUs: GET /v1/reports/root-causes.
    """
    from history import rootcause

    if days is not None and days not in rootcause.PERIODS:
        _fail(f"--days must be one of {', '.join(map(str, rootcause.PERIODS))}, not {days}")
    runtime = _runtime()
    with runtime.session() as session:
        report = rootcause.root_causes(
            session,
            tenant_id=tenant,
            until=_utc(until),
            channel=channel,
            within_days=within_days or runtime.settings.repeat_contact_days,
        )
    if days is not None:
        report = report.model_copy(update={"periods": {f"{days}d": report.periods[f"{days}d"]}})
    if as_csv:
        sys.stdout.write(rootcause.report_csv(report))  # plain: rich would wrap long rows
        return
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    console.print(
        f"until {report.until:%Y-%m-%d %H:%M} UTC; a repeat is the same customer and reason "
        f"within {report.repeat_within_days} days"
    )
    for period, rows in report.periods.items():
        noted = any(r.note for r in rows)  # the notes' two columns only where a lead wrote some
        table = _compact_table(f"last {period} (--csv or --json for the top three SKUs)")
        table.add_column("reason", no_wrap=True)
        table.add_column("channel", no_wrap=True, min_width=7)
        for header in ("volume", "share", "repeat", "FCR", "handling"):
            table.add_column(header, justify="right", no_wrap=True, min_width=max(len(header), 6))
        table.add_column("top SKU", no_wrap=True, overflow="ellipsis", min_width=8)
        for header in ("root cause", "owner") if noted else ():
            table.add_column(header)
        for r in rows:
            handling = "-" if r.avg_handling_seconds is None else f"{r.avg_handling_seconds / 60:.1f} min"
            top = f"{r.top_skus[0].sku} ({r.top_skus[0].tickets})" if r.top_skus else "-"
            cells = [
                r.reason,
                r.channel,
                str(r.volume),
                _rate(r.share),
                _rate(r.repeat_rate),
                _rate(r.fcr_rate),
                handling,
                top,
            ]
            if noted:
                cells += [r.note.root_cause, r.note.action_owner] if r.note else ["", ""]
            table.add_row(*cells)
        console.print(table)


@report_app.command("impact")
def impact(
    tenant: TenantOption = "demo",
    article: Annotated[str | None, typer.Option(help="Article id whose change to measure")] = None,
    macro: Annotated[str | None, typer.Option(help="Macro key whose change to measure")] = None,
    date: Annotated[
        datetime | None, typer.Option(formats=DATE_FORMATS, help="When it changed; default its last change")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Length of each window")] = 28,
    reason: Annotated[str | None, typer.Option(help="Contact reason; default the subject's tag")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Before/after impact of an article or macro change on its contact reason.

    Contacts, deflection and repeat rates in equal windows either side of it: GET /v1/reports/impact.
    """
    from history import impact as impact_service

    if (article is None) == (macro is None):
        _fail("give exactly one of --article ID and --macro KEY")
    runtime = _runtime()
    try:
        with runtime.session() as session:
            report = impact_service.impact(
                session,
                tenant_id=tenant,
                article_id=article,
                macro_key=macro,
                date=_utc(date),
                days=days,
                reason=reason,
                repeat_days=runtime.settings.repeat_contact_days,
                deflection_hours=runtime.settings.deflection_window_hours,
            )
    except DeflectError as exc:
        _fail(exc.message)
    if as_json:
        _print_json(report.model_dump(mode="json"))
        return
    shortened = "" if report.complete else " (shortened: the change is recent)"
    console.print(
        f"{report.kind} {report.id} (reason {report.reason}) changed "
        f"{report.changed_at:%Y-%m-%d %H:%M} UTC; two windows of {report.days:g} days{shortened}:\n"
        f"before {report.before.since:%Y-%m-%d %H:%M} to {report.before.until:%Y-%m-%d %H:%M}, "
        f"after {report.after.since:%Y-%m-%d %H:%M} to {report.after.until:%Y-%m-%d %H:%M}"
    )
    table = _compact_table()
    for header in ("window", "contacts", "per day", "sessions", "deflected", "repeat base", "repeat rate"):
        table.add_column(
            header, justify="left" if header == "window" else "right", no_wrap=True, min_width=len(header)
        )
    for label, w in (("before", report.before), ("after", report.after)):
        table.add_row(
            label,
            str(w.contacts),
            f"{w.contacts_per_day:g}",
            str(w.deflection_sessions),
            _rate(w.deflection_rate),
            str(w.repeat_base),
            _rate(w.repeat_rate),
        )
    d = report.delta
    table.add_row(
        "change",
        f"{d.contacts:+d}",
        f"{d.contacts_per_day:+g}",
        "",
        _points(d.deflection_rate),
        "",
        _points(d.repeat_rate),
    )
    console.print(table)
