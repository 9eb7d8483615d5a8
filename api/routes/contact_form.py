from __future__ import annotations

from fastapi import APIRouter

from api.deps import OrderCheckDep, PublicDep, SearchDep, SessionDep, SettingsDep, TransactionRoute
from kb.contact_form import (
    ContactSubmitRequest,
    ContactSubmitResult,
    ContactSuggestRequest,
    ContactSuggestResult,
    contact_suggest,
    submit_contact,
)
from kb.suggest import article_cutoff

router = APIRouter(prefix="/v1/contact-form", tags=["contact form"], route_class=TransactionRoute)


@router.post("/suggest", response_model=ContactSuggestResult)
def contact_form_suggest(
    body: ContactSuggestRequest,
    principal: PublicDep,
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
    attempts: OrderCheckDep,
) -> ContactSuggestResult:
    """Before submit: articles for the topic and message; the live order status when the customer verifies."""
    threshold = article_cutoff(session, search, tenant_id=principal.tenant_id)
    return contact_suggest(
        session, search, tenant_id=principal.tenant_id, request=body, threshold=threshold, attempts=attempts
    )


@router.post("/submit", response_model=ContactSubmitResult, status_code=201)
def contact_form_submit(
    body: ContactSubmitRequest,
    principal: PublicDep,
    session: SessionDep,
    search: SearchDep,
    settings: SettingsDep,
) -> ContactSubmitResult:
    """ "I still need help": creates the web ticket through the tickets service, duplicate check included.

    A public key cannot call POST /v1/tickets (agent role); this endpoint accepts only what a customer can
    say about themselves and is idempotent per `submission_id`.
    """
    return submit_contact(
        session,
        search,
        tenant_id=principal.tenant_id,
        request=body,
        window_days=settings.duplicate_window_days,
    )
