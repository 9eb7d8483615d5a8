from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentDep, RowId, RuntimeDep, SessionDep, TransactionRoute
from replies.drafts import compose, recheck
from replies.schemas import DraftCheckCreate, DraftCheckRead, DraftCreate, DraftRead

router = APIRouter(prefix="/v1", tags=["drafts"], route_class=TransactionRoute)


@router.post("/drafts", response_model=DraftRead)
def create_draft(
    body: DraftCreate, principal: AgentDep, session: SessionDep, runtime: RuntimeDep
) -> DraftRead:
    """A complete reply for a ticket or message: per-question coverage, facts and sources, compliance
    result."""
    return compose(
        session,
        tenant_id=principal.tenant_id,
        request=body,
        settings=runtime.settings,
        engine=runtime.search,
        created_by_key=principal.key_id,
    )


@router.post("/drafts/{draft_id}/check", response_model=DraftCheckRead)
def check_edited_draft(
    draft_id: RowId, body: DraftCheckCreate, principal: AgentDep, session: SessionDep
) -> DraftCheckRead:
    """Re-checks an agent's edit of a draft before sending: violations inline, facts kept and sourced."""
    return recheck(session, tenant_id=principal.tenant_id, draft_id=draft_id, text=body.text)
