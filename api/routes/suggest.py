from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PublicDep, SearchDep, SessionDep, TransactionRoute
from kb.schemas import SuggestRequest, SuggestResult
from kb.suggest import article_cutoff, suggest

router = APIRouter(prefix="/v1", tags=["suggest"], route_class=TransactionRoute)


@router.post("/suggest", response_model=SuggestResult)
def suggest_articles(
    body: SuggestRequest,
    principal: PublicDep,
    session: SessionDep,
    search: SearchDep,
    request: Request,
) -> SuggestResult:
    """Help-centre search: ranked articles, or `abstained: true` and none when nothing fits."""
    result = suggest(
        session,
        search,
        tenant_id=principal.tenant_id,
        query=body.query,
        channel=body.channel,
        locale=body.locale,
        top_k=body.top_k,
        threshold=article_cutoff(session, search, tenant_id=principal.tenant_id),
    )
    if result.abstained:
        request.app.state.metrics.abstentions.inc()
    return result
