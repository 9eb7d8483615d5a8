"""Support-lead insights: content gaps, the root-cause table, before/after impact, the KB compliance audit,
and, for agents, the articles that answer each question of a ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.deps import AgentDep, SearchDep, SessionDep, SettingsDep, TransactionRoute
from core.schemas import Tag, UtcDateTime
from insights import audit, gaps, impact, rootcause, snapshots
from insights.audit import KbAuditReport
from insights.gaps import ContentGapReport
from insights.impact import ImpactReport
from insights.rootcause import RootCauseNoteIn, RootCauseNoteRead, RootCauseReport
from kb.service import COLLECTION
from kb.suggest import article_cutoff
from replies.answers import TicketArticles
from replies.drafts import articles_for_ticket

router = APIRouter(prefix="/v1", tags=["insights"], route_class=TransactionRoute)


def _threshold(session: SessionDep, search: SearchDep, settings: SettingsDep, tenant_id: str) -> float | None:
    return article_cutoff(session, search, tenant_id=tenant_id)


@router.get("/reports/content-gaps", response_model=ContentGapReport)
def content_gaps(
    principal: AgentDep,
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
    response: Response,
    days: int = Query(30, ge=1, le=gaps.MAX_DAYS),
    until: UtcDateTime | None = None,
    distance: float = Query(gaps.DEFAULT_DISTANCE, gt=0, lt=2, description="Cosine distance threshold"),
    min_size: int = Query(2, ge=1, le=100),
    limit: int = Query(20, ge=1, le=200),
    live: bool = Query(False, description="Compute now, even when a worker's fresh snapshot exists"),
) -> ContentGapReport:
    """Clusters of recent questions the help centre does not answer, most preventable contacts first.
    The default view comes from the worker's hourly snapshot while fresh (header X-Report-Computed-At)."""
    search.catch_up(principal.tenant_id, COLLECTION)
    report, computed_at = snapshots.content_gaps_view(
        session,
        search,
        tenant_id=principal.tenant_id,
        threshold=_threshold(session, search, settings, principal.tenant_id),
        view=snapshots.GapView(days=days, until=until, distance=distance, min_size=min_size, limit=limit),
        max_age=timedelta(seconds=settings.report_snapshot_max_age_seconds),
        live=live,
    )
    if computed_at is not None:
        response.headers["X-Report-Computed-At"] = computed_at.isoformat()
    return report


@router.get(
    "/reports/root-causes", response_model=RootCauseReport, responses={200: {"content": {"text/csv": {}}}}
)
def root_causes(
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    until: UtcDateTime | None = None,
    channel: str | None = Query(None, max_length=20, description="Only this channel's rows ('all' = totals)"),
    within_days: int | None = Query(None, ge=1, le=90, description="Repeat window; default the setting"),
    format: Literal["json", "csv"] = "json",
) -> RootCauseReport | Response:
    """Per reason and channel over 30/60/90 days: volume, share, repeat and first-contact-resolution rates,
    handling time, top SKUs and the lead's root cause + action owner (`format=csv` for the weekly review)."""
    report = rootcause.root_causes(
        session,
        tenant_id=principal.tenant_id,
        until=until,
        channel=channel,
        within_days=within_days or settings.repeat_contact_days,
    )
    if format == "csv":
        return Response(
            rootcause.report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="root-causes.csv"'},
        )
    return report


@router.put("/reports/root-causes/{reason}/{channel}", response_model=RootCauseNoteRead)
def set_root_cause(
    reason: Tag, channel: str, body: RootCauseNoteIn, principal: AgentDep, session: SessionDep
) -> RootCauseNoteRead:
    """Sets the root cause and action owner of a reason on a channel ('all' for every channel); the previous
    note is kept in its history."""
    return rootcause.set_note(
        session,
        tenant_id=principal.tenant_id,
        reason=reason,
        channel=channel,
        note=body,
        actor=principal.actor,
    )


@router.get("/reports/root-causes/{reason}/{channel}/history", response_model=list[RootCauseNoteRead])
def root_cause_history(
    reason: Tag, channel: str, principal: AgentDep, session: SessionDep
) -> list[RootCauseNoteRead]:
    """Every root cause set for a reason and channel, newest first, with who set it and when."""
    return rootcause.note_history(session, tenant_id=principal.tenant_id, reason=reason, channel=channel)


@router.get("/reports/impact", response_model=ImpactReport)
def impact_report(
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    article_id: str | None = Query(None, max_length=200),
    macro_key: str | None = Query(None, max_length=64),
    date: Annotated[UtcDateTime | None, Query(description="When it changed; default its last change")] = None,
    days: int = Query(28, ge=1, le=impact.MAX_DAYS),
    reason: Tag | None = None,
) -> ImpactReport:
    """Contacts, deflection rate and repeat-contact rate of the article's or macro's reason in equal windows
    before and after the change, with sample sizes."""
    return impact.impact(
        session,
        tenant_id=principal.tenant_id,
        article_id=article_id,
        macro_key=macro_key,
        date=date,
        days=days,
        reason=reason,
        repeat_days=settings.repeat_contact_days,
        deflection_hours=settings.deflection_window_hours,
    )


@router.get("/reports/kb-audit", response_model=KbAuditReport)
def kb_audit(principal: AgentDep, session: SessionDep, only_failing: bool = False) -> KbAuditReport:
    """Compliance of every Amazon-, eBay- or Walmart-scoped article per marketplace channel, failing first."""
    return audit.audit(session, tenant_id=principal.tenant_id, only_failing=only_failing)


@router.get("/tickets/{ticket_id}/suggested-articles", response_model=TicketArticles, tags=["tickets"])
def suggested_articles(
    ticket_id: str, principal: AgentDep, session: SessionDep, search: SearchDep, settings: SettingsDep
) -> TicketArticles:
    """Per question of the ticket, the articles that answer it with the answering sentence highlighted."""
    return articles_for_ticket(
        session, search, tenant_id=principal.tenant_id, ticket_id=ticket_id, settings=settings
    )
