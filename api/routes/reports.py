"""Support-lead insights: content gaps, the root-cause table, before/after impact, the KB compliance audit,
and the articles that answer each question of a ticket."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentDep, SessionDep
from kb import audit
from kb.audit import KbAuditReport

router = APIRouter(prefix="/v1", tags=["insights"])


@router.get("/reports/kb-audit", response_model=KbAuditReport)
def kb_audit(principal: AgentDep, session: SessionDep, only_failing: bool = False) -> KbAuditReport:
    """Compliance of every article scoped to Amazon, eBay or Walmart, per marketplace channel; failing first."""
    return audit.audit(session, tenant_id=principal.tenant_id, only_failing=only_failing)
