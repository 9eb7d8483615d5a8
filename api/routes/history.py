from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AdminDep, AgentDep, RowId, SessionDep, SettingsDep, TransactionRoute
from core.schemas import ImportReport, UtcDateTime
from history import identity, service
from history.schemas import (
    CustomerHistory,
    IdentityRead,
    LinkRequest,
    OrderCreate,
    RepeatContactsReport,
    TopReasonsReport,
    UnlinkRequest,
)
from insights import contacts as reports

router = APIRouter(tags=["history"], route_class=TransactionRoute)


@router.get("/v1/customers/{customer_id}/history", response_model=CustomerHistory)
def customer_history(customer_id: RowId, principal: AgentDep, session: SessionDep) -> CustomerHistory:
    """Every order, shipment, refund, message and merge of a customer, oldest first, with linked
    identities."""
    return service.customer_timeline(session, tenant_id=principal.tenant_id, customer_id=customer_id)


@router.post("/v1/orders/import", response_model=ImportReport)
def import_orders(body: list[OrderCreate], principal: AdminDep, session: SessionDep) -> ImportReport:
    """A batch of orders in the orders.jsonl shape: all or nothing, idempotent by order id."""
    return service.import_orders(session, tenant_id=principal.tenant_id, orders=body, file="request body")


@router.post("/v1/identities/link", response_model=IdentityRead)
def link_identity(body: LinkRequest, principal: AgentDep, session: SessionDep) -> IdentityRead:
    """Ties an identity, and the contacts that came through it, to another customer."""
    linked = identity.link_identity(
        session,
        tenant_id=principal.tenant_id,
        identity_id=body.identity_id,
        customer_id=body.customer_id,
        actor=principal.actor,
        reason=body.reason,
    )
    return service.identity_read(linked)


@router.post("/v1/identities/{identity_id}/unlink", response_model=IdentityRead)
def unlink_identity(
    identity_id: RowId, body: UnlinkRequest, principal: AgentDep, session: SessionDep
) -> IdentityRead:
    """Splits an identity and its contacts off into a customer of their own."""
    moved = identity.unlink_identity(
        session,
        tenant_id=principal.tenant_id,
        identity_id=identity_id,
        actor=principal.actor,
        reason=body.reason,
    )
    return service.identity_read(moved)


@router.get("/v1/reports/repeat-contacts", response_model=RepeatContactsReport)
def repeat_contacts(
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    within_days: int | None = Query(None, ge=1, le=90),
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
) -> RepeatContactsReport:
    """Repeat-contact rate per reason and per channel (same customer, same reason, within N days)."""
    return reports.repeat_contacts(
        session,
        tenant_id=principal.tenant_id,
        within_days=within_days or settings.repeat_contact_days,
        since=since,
        until=until,
    )


@router.get("/v1/reports/top-reasons", response_model=TopReasonsReport)
def top_reasons(
    principal: AgentDep, session: SessionDep, until: UtcDateTime | None = None
) -> TopReasonsReport:
    """The top five contact reasons per channel over the last 30, 60 and 90 days."""
    return reports.top_reasons(session, tenant_id=principal.tenant_id, until=until)
