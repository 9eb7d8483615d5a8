"""Carrier webhook (HMAC-signed, no API key) and the admin endpoint that issues its secret."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api.deps import AdminDep, SessionDep, TransactionRoute
from history import shipments
from history.shipments import ShipmentEventResult, WebhookSecretCreated

router = APIRouter(prefix="/v1/shipments", tags=["shipments"], route_class=TransactionRoute)


async def _raw_body(request: Request) -> bytes:
    # The signature covers the exact bytes sent, so the body is verified before it is parsed.
    return await request.body()


@router.post("/events", response_model=ShipmentEventResult, responses={401: {}, 404: {}, 422: {}})
def post_event(
    request: Request, session: SessionDep, body: bytes = Depends(_raw_body)
) -> ShipmentEventResult:
    """One carrier status event: `{"tracking_number", "status", "location", "occurred_at"}`.

    Send the tenant id in `X-Deflect-Tenant` and `X-Deflect-Signature: sha256=<hex HMAC-SHA256 of the raw body
    under the tenant's webhook secret>`. Idempotent; an event older than the recorded status changes nothing.
    """
    tenant_id = shipments.verify(
        session,
        tenant_id=request.headers.get(shipments.TENANT_HEADER),
        body=body,
        signature=request.headers.get(shipments.SIGNATURE_HEADER),
    )
    return shipments.apply_event(session, tenant_id=tenant_id, event=shipments.parse_event(body))


@router.post("/webhook-secret", response_model=WebhookSecretCreated, status_code=201)
def rotate_webhook_secret(principal: AdminDep, session: SessionDep) -> WebhookSecretCreated:
    """Creates or rotates this tenant's webhook secret; the previous secret stops working at once."""
    return shipments.rotate_secret(session, tenant_id=principal.tenant_id, actor=principal.actor)
