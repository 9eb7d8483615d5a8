from __future__ import annotations

from fastapi import APIRouter

from api.deps import PublicDep, SearchDep, SessionDep, SettingsDep
from kb.contact_form import ContactSuggestRequest, ContactSuggestResult, contact_suggest
from kb.suggest import abstain_threshold

router = APIRouter(prefix="/v1/contact-form", tags=["contact form"])


@router.post("/suggest", response_model=ContactSuggestResult)
def contact_form_suggest(body: ContactSuggestRequest, principal: PublicDep, session: SessionDep,
                         search: SearchDep, settings: SettingsDep) -> ContactSuggestResult:
    """Before submit: articles for the topic and message; the live order status when the customer verifies."""
    threshold = abstain_threshold(session, tenant_id=principal.tenant_id, encoder=search.encoder.name,
                                  default=settings.default_abstain_threshold)
    return contact_suggest(session, search, tenant_id=principal.tenant_id, request=body, threshold=threshold)
