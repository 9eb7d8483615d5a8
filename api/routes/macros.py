from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AdminDep, AgentDep, SessionDep, SettingsDep, TransactionRoute
from core.schemas import UtcDateTime
from insights.macros import macro_report
from replies import macros
from replies.schemas import MacroDetail, MacroPage, MacroRead, MacroReport, MacroVersionCreate

router = APIRouter(tags=["macros"], route_class=TransactionRoute)

_KEY = r"^[a-z][a-z0-9_]{1,63}$"
_CHANNEL = r"^(\*|amazon|ebay|walmart|shopify|email|web)$"
_LOCALE = r"^[a-z]{2,3}$"


@router.get("/v1/macros", response_model=MacroPage)
def list_macros(
    principal: AgentDep,
    session: SessionDep,
    key: str | None = Query(None, pattern=_KEY),
    channel: str | None = Query(None, pattern=_CHANNEL),
    locale: str | None = Query(None, pattern=_LOCALE),
) -> MacroPage:
    """Every macro with its current version."""
    rows = macros.list_(session, tenant_id=principal.tenant_id, key=key, channel=channel, locale=locale)
    return MacroPage(items=[macros.to_read(m, v) for m, v in rows], total=len(rows))


@router.get("/v1/macros/{key}/{channel}/{locale}", response_model=MacroDetail)
def get_macro(principal: AgentDep, session: SessionDep, key: str, channel: str, locale: str) -> MacroDetail:
    """One macro with every version it ever had."""
    macro = macros.get(session, tenant_id=principal.tenant_id, key=key, channel=channel, locale=locale)
    return macros.to_detail(macro)


@router.put("/v1/macros/{key}/{channel}/{locale}", response_model=MacroRead, status_code=201)
def save_macro(
    body: MacroVersionCreate,
    principal: AdminDep,
    session: SessionDep,
    key: str,
    channel: str,
    locale: str,
) -> MacroRead:
    """Admin only: saves a new version (earlier versions and the drafts that used them stay as they were)."""
    version = macros.save_version(
        session,
        tenant_id=principal.tenant_id,
        key=key,
        channel=channel,
        locale=locale,
        body=body.body,
        created_by=principal.actor,
        note=body.note,
    )
    return macros.to_read(version.macro, version)


@router.get("/v1/reports/macros", response_model=MacroReport)
def report_macros(
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
) -> MacroReport:
    """Usage, first-contact resolution per macro and tag, average handling time per tag."""
    return macro_report(
        session,
        tenant_id=principal.tenant_id,
        since=since,
        until=until,
        window_days=settings.repeat_contact_days,
    )
