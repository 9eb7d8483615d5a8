from __future__ import annotations

from fastapi import APIRouter

from api.deps import AgentDep
from compliance.schemas import ComplianceCheckCreate, ComplianceResult
from compliance.service import check

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])


@router.post("/check", response_model=ComplianceResult)
def check_reply(body: ComplianceCheckCreate, principal: AgentDep) -> ComplianceResult:
    """Check a reply against the channel's messaging rules: violations, safe fixes, whether it may be sent."""
    return check(body.text, channel=body.channel, locale=body.locale)
