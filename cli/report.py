"""`deflect report ...`: the support lead's reports, the same insights services as the API."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.history import (
    DATE_FORMATS,
    TenantOption,
    _compact_table,
    _fail,
    _points,
    _print_json,
    _rate,
    _runtime,
    _utc,
    console,
)
from core.errors import DeflectError
from insights import audit, gaps, rootcause
from insights import contacts as reports
from insights import impact as impact_service
from kb.suggest import article_cutoff

app = typer.Typer(
    help="Insight reports: repeat contacts, top reasons, root causes, impact, content gaps, KB audit.",
    no_args_is_help=True,
)


@app.command("repeat-contacts")
def repeat_contacts(
    tenant: TenantOption = "demo",
    within_days: Annotated[int | None, typer.Option(help="Default: DEFLECT_REPEAT_CONTACT_DAYS")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Repeat-contact rate per reason and per channel."""

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


@app.command("top-reasons")
def top_reasons(
    tenant: TenantOption = "demo", as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Top five contact reasons per channel over the last 30, 60 and 90 days."""

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


@app.command("kb-audit")
def kb_audit(
    tenant: TenantOption = "demo",
    only_failing: Annotated[bool, typer.Option("--failing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Compliance of every marketplace-scoped help article, per channel; exits 1 on a blocking one not
    overridden."""

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


@app.command("content-gaps")
def content_gaps(
    tenant: TenantOption = "demo",
    days: Annotated[int, typer.Option(min=1, max=366)] = 30,
    distance: Annotated[float, typer.Option(help="Cosine distance threshold of the clustering")] = 0.5,
    min_size: Annotated[int, typer.Option(min=1)] = 2,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clusters of recent questions the help centre does not answer, most preventable contacts first."""

    runtime = _runtime()
    search = runtime.search
    search.catch_up(tenant, "articles")
    try:
        with runtime.session() as session:
            threshold = article_cutoff(session, search, tenant_id=tenant)
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


@app.command("root-causes")
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


@app.command("impact")
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
