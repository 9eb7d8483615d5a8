from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from api.deps import AgentDep, PublicDep, SessionDep, SettingsDep, TransactionRoute
from core.schemas import UtcDateTime
from kb import deflection
from kb.deflection import DeflectionEventBatch, DeflectionReport, EventsAccepted

router = APIRouter(prefix="/v1", tags=["deflection"], route_class=TransactionRoute)


@router.post("/deflection/events", response_model=EventsAccepted, status_code=202)
def post_events(body: DeflectionEventBatch, principal: PublicDep, session: SessionDep) -> EventsAccepted:
    """Impressions, clicks, votes, contact-anyway and submissions from the widget and contact form."""
    return EventsAccepted(
        accepted=deflection.record_events(session, tenant_id=principal.tenant_id, events=body.events)
    )


@router.get(
    "/reports/deflection", response_model=DeflectionReport, responses={200: {"content": {"text/csv": {}}}}
)
def get_deflection_report(
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
    bucket: Literal["day", "week"] = "day",
    window_hours: int | None = Query(None, ge=1, le=24 * 90),
    format: Literal["json", "csv"] = "json",
) -> DeflectionReport | Response:
    """Deflection rate overall, per topic, per channel and over time (`format=csv` for a spreadsheet)."""
    report = deflection.deflection_report(
        session,
        tenant_id=principal.tenant_id,
        window_hours=window_hours or settings.deflection_window_hours,
        since=since,
        until=until,
        bucket=bucket,
    )
    if format == "csv":
        return Response(
            deflection.report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="deflection.csv"'},
        )
    return report
