from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentDep, RuntimeDep, SessionDep, TransactionRoute
from replies.drafts import compose
from replies.schemas import DraftCreate, DraftRead

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
