"""Channel configuration (admin), quarantine and outbox (agent), sending a draft, and Shopify webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from api.deps import AdminDep, AgentDep, RowId, SessionDep, SettingsDep, TransactionRoute
from channels import outbound, shopify
from channels import service as channel_service
from channels.schemas import (
    ConnectionTestRead,
    MailboxCreate,
    MailboxRead,
    OutboxPage,
    OutboxRead,
    OutboxStatus,
    QuarantineRead,
    SendApproval,
    ShopifyStoreCreate,
    ShopifyStoreRead,
    ShopifyWebhookResult,
)

router = APIRouter(prefix="/v1", tags=["channels"], route_class=TransactionRoute)


def _actor(principal: AgentDep) -> str:
    return f"{principal.role}-key:{principal.key_id}"


@router.post("/channels/mailboxes", response_model=MailboxRead, status_code=201)
def add_mailbox(
    body: MailboxCreate, principal: AdminDep, session: SessionDep, settings: SettingsDep
) -> MailboxRead:
    """Connects a support mailbox; the password is stored encrypted (or read from the named env variable)."""
    return channel_service.to_read(
        channel_service.create_mailbox(
            session, settings, tenant_id=principal.tenant_id, mailbox_in=body, actor=_actor(principal)
        )
    )


@router.get("/channels/mailboxes", response_model=list[MailboxRead])
def list_mailboxes(principal: AdminDep, session: SessionDep) -> list[MailboxRead]:
    return [
        channel_service.to_read(m)
        for m in channel_service.list_mailboxes(session, tenant_id=principal.tenant_id)
    ]


@router.post("/channels/mailboxes/{name}/test", response_model=ConnectionTestRead)
def test_mailbox(
    name: str, principal: AdminDep, session: SessionDep, settings: SettingsDep
) -> ConnectionTestRead:
    """Logs in over IMAP and SMTP, opens the folder; a failure names its step (connect, tls, auth, folder)."""
    return channel_service.test_connection(
        settings, channel_service.get_mailbox(session, tenant_id=principal.tenant_id, name=name)
    )


@router.delete("/channels/mailboxes/{name}", status_code=204)
def remove_mailbox(name: str, principal: AdminDep, session: SessionDep) -> None:
    channel_service.delete_mailbox(session, tenant_id=principal.tenant_id, name=name)


@router.get("/channels/quarantine", response_model=list[QuarantineRead])
def quarantine(
    principal: AgentDep, session: SessionDep, limit: int = Query(50, ge=1, le=200)
) -> list[QuarantineRead]:
    """Mail that could not become a ticket, newest first, with the reason."""
    return channel_service.list_quarantine(session, tenant_id=principal.tenant_id, limit=limit)


@router.post("/drafts/{draft_id}/send", response_model=OutboxRead, status_code=202)
def send_draft(
    draft_id: RowId, principal: AgentDep, session: SessionDep, body: SendApproval | None = None
) -> OutboxRead:
    """The agent approves a draft (optionally edited): it is queued to the ticket's mail thread. The channel's
    compliance check runs again when it is sent, and a blocking violation stops it (status `blocked`)."""
    return outbound.to_read(
        outbound.approve_draft(
            session,
            tenant_id=principal.tenant_id,
            draft_id=draft_id,
            text=body.text if body else None,
            actor=_actor(principal),
        )
    )


@router.get("/outbox", response_model=OutboxPage)
def list_outbox(
    principal: AgentDep,
    session: SessionDep,
    status: OutboxStatus | None = None,
    ticket_id: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=200),
) -> OutboxPage:
    rows = outbound.list_outbox(
        session, tenant_id=principal.tenant_id, status=status, ticket_id=ticket_id, limit=limit
    )
    return OutboxPage(items=[outbound.to_read(r) for r in rows])


@router.get("/outbox/{outbox_id}", response_model=OutboxRead)
def get_outbox(outbox_id: RowId, principal: AgentDep, session: SessionDep) -> OutboxRead:
    return outbound.to_read(outbound.get_outbox(session, tenant_id=principal.tenant_id, outbox_id=outbox_id))


@router.post("/outbox/{outbox_id}/cancel", response_model=OutboxRead)
def cancel_outbox(outbox_id: RowId, principal: AgentDep, session: SessionDep) -> OutboxRead:
    """Withdraws a mail not yet handed to the mail server."""
    return outbound.to_read(
        outbound.cancel(session, tenant_id=principal.tenant_id, outbox_id=outbox_id, actor=_actor(principal))
    )


@router.put("/channels/shopify", response_model=ShopifyStoreRead)
def connect_shopify(
    body: ShopifyStoreCreate, principal: AdminDep, session: SessionDep, settings: SettingsDep
) -> ShopifyStoreRead:
    """Connects (or re-keys) the tenant's Shopify shop; its webhooks go to /v1/channels/shopify/webhooks."""
    return shopify.store_read(
        shopify.connect_store(
            session, settings, tenant_id=principal.tenant_id, store_in=body, actor=_actor(principal)
        )
    )


async def _raw_body(request: Request) -> bytes:
    # The HMAC covers the exact bytes sent, so the body is verified before it is parsed.
    return await request.body()


@router.post("/channels/shopify/webhooks", response_model=ShopifyWebhookResult, responses={401: {}, 422: {}})
def shopify_webhook(
    request: Request, session: SessionDep, settings: SettingsDep, body: bytes = Depends(_raw_body)
) -> ShopifyWebhookResult:
    """Shopify's orders/create, orders/updated, fulfillments/create and refunds/create webhooks, verified by
    X-Shopify-Hmac-Sha256; idempotent by X-Shopify-Webhook-Id, and any arrival order gives the same order."""
    return shopify.receive_webhook(
        session,
        settings,
        shop_domain=request.headers.get(shopify.SHOP_HEADER),
        topic=request.headers.get(shopify.TOPIC_HEADER),
        webhook_id=request.headers.get(shopify.WEBHOOK_ID_HEADER),
        signature=request.headers.get(shopify.HMAC_HEADER),
        body=body,
    )
