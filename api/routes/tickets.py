from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import AgentDep, RowId, SearchDep, SessionDep, SettingsDep, TransactionRoute
from channels import outbound
from core.schemas import MAX_ROW_ID, Channel, Tag
from history import service
from history.duplicates import duplicates_of
from history.schemas import (
    DuplicatesRead,
    IngestResponse,
    MergeRead,
    MergeRequest,
    TicketBatch,
    TicketBody,
    TicketPage,
    TicketRead,
    TicketStatus,
    UndoRequest,
)
from replies import merge

router = APIRouter(prefix="/v1/tickets", tags=["tickets"], route_class=TransactionRoute)


def _actor(principal: AgentDep) -> str:
    return principal.actor


@router.post("", response_model=IngestResponse, status_code=201)
def ingest(
    body: TicketBody,
    principal: AgentDep,
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
) -> IngestResponse:
    """Ingests one ticket or a batch; each result carries the duplicate candidates with scores and reasons."""
    tickets = body.tickets if isinstance(body, TicketBatch) else [body]
    results = service.ingest_tickets(
        session,
        search,
        tenant_id=principal.tenant_id,
        tickets=tickets,
        window_days=settings.duplicate_window_days,
        # The writes commit before the long, read-only duplicate check (a retry is idempotent by id).
        after_write=session.commit,
    )
    return IngestResponse(results=results)


@router.get("", response_model=TicketPage)
def list_tickets(
    principal: AgentDep,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=service.MAX_PAGE),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    status: TicketStatus | None = None,
    channel: Channel | None = None,
    tag: Tag | None = None,
    customer: int | None = Query(None, ge=1, le=MAX_ROW_ID, description="customer id"),
    q: str | None = Query(
        None, min_length=1, max_length=200, description="Words the subject, body, ticket or order id holds"
    ),
) -> TicketPage:
    """Tickets newest first, filtered by status, channel, tag, customer or words; page on with next_cursor."""
    return service.list_tickets(
        session,
        tenant_id=principal.tenant_id,
        limit=limit,
        cursor=cursor,
        status=status,
        channel=channel,
        tag=tag,
        customer_id=customer,
        text=q,
    )


@router.post("/merge", response_model=MergeRead, status_code=201)
def merge_tickets(body: MergeRequest, principal: AgentDep, session: SessionDep) -> MergeRead:
    """Merges tickets into one group (Amazon: the oldest open thread is primary); courtesy notes are sent
    by mail to the other threads that came by mail."""
    group = outbound.merge_and_notify(
        session,
        tenant_id=principal.tenant_id,
        ticket_ids=body.ticket_ids,
        actor=_actor(principal),
        reason=body.reason,
    )
    return merge.to_read(session, group)


@router.get("/merge/{group_id}", response_model=MergeRead)
def get_merge(group_id: RowId, principal: AgentDep, session: SessionDep) -> MergeRead:
    return merge.to_read(session, merge.get_group(session, tenant_id=principal.tenant_id, group_id=group_id))


@router.post("/merge/{group_id}/undo", response_model=MergeRead)
def undo_merge(
    group_id: RowId, principal: AgentDep, session: SessionDep, body: UndoRequest | None = None
) -> MergeRead:
    """Restores every member ticket exactly as it was before the merge."""
    group = outbound.undo_merge_and_cancel(
        session,
        tenant_id=principal.tenant_id,
        group_id=group_id,
        actor=_actor(principal),
        reason=body.reason if body else "",
    )
    return merge.to_read(session, group)


@router.get("/{ticket_id}", response_model=TicketRead)
def get_ticket(ticket_id: str, principal: AgentDep, session: SessionDep) -> TicketRead:
    return service.to_read(service.get_ticket(session, tenant_id=principal.tenant_id, ticket_id=ticket_id))


@router.get("/{ticket_id}/duplicates", response_model=DuplicatesRead)
def get_duplicates(
    ticket_id: str,
    principal: AgentDep,
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
    min_score: float | None = Query(None, ge=0, le=1, description="Default: the calibrated threshold"),
    top_k: int = Query(10, ge=1, le=50),
    window_days: int | None = Query(None, ge=1, le=365),
) -> DuplicatesRead:
    """Likely duplicates of a stored ticket, best first, each with its score and reasons."""
    window = window_days or settings.duplicate_window_days
    threshold, candidates = duplicates_of(
        session,
        search,
        tenant_id=principal.tenant_id,
        ticket_id=ticket_id,
        window_days=window,
        min_score=min_score,
        top_k=top_k,
    )
    return DuplicatesRead(ticket_id=ticket_id, threshold=threshold, window_days=window, candidates=candidates)
