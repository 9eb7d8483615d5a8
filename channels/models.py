"""Mailboxes, mail received and quarantined, the outbox; Shopify stores, deliveries and order state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, TenantMixin


class Mailbox(TenantMixin, Base):
    """One support mailbox of a tenant: IMAP to read it, SMTP to answer from it.

    The password is never stored in clear: either a Fernet token under DEFLECT_SECRET_KEY
    (`secret_ciphertext`) or the name of an environment variable that holds it (`secret_env`).
    """

    __tablename__ = "mailboxes"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(320))
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer)
    imap_security: Mapped[str] = mapped_column(String(10))  # ssl | starttls | none
    username: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    # Where the provider files sent mail, searched with `folder` to confirm an interrupted send.
    sent_folder: Mapped[str | None] = mapped_column(String(255))
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    secret_env: Mapped[str | None] = mapped_column(String(100))
    smtp_host: Mapped[str] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(10))  # ssl | starttls | none
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # IMAP UIDs are only comparable under one UIDVALIDITY; a new one means "read the folder again".
    uidvalidity: Mapped[int | None] = mapped_column(Integer)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMail(TenantMixin, Base):
    """A message taken in from a mailbox; its Message-ID makes every later sighting a no-op."""

    __tablename__ = "inbound_mail"
    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id"),
        Index("ix_inbound_mail_relay_order", "tenant_id", "reply_to", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    uid: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str] = mapped_column(String(500))
    ticket_id: Mapped[str] = mapped_column(String(200), index=True)
    thread_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    # Where a reply to this message goes: the marketplace relay address, Reply-To or From.
    reply_to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(1000), default="")
    order_id: Mapped[str | None] = mapped_column(String(100))
    order_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{filename, content_type, size, sha256}]; the bytes stay on the mail server.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedMail(TenantMixin, Base):
    """A message that could not become a ticket, with the reason; kept, never dropped."""

    __tablename__ = "quarantined_mail"
    __table_args__ = (UniqueConstraint("tenant_id", "mailbox_id", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    uidvalidity: Mapped[int] = mapped_column(Integer)
    uid: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    # The message as received, up to DEFLECT_MAIL_MAX_BYTES (larger ones stay on the server only).
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(TenantMixin, Base):
    """One outgoing mail. Its Message-ID is fixed when queued and recorded before each send, so an
    interrupted send is recognised by it instead of being sent again."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # reply | courtesy_note
    ticket_id: Mapped[str] = mapped_column(String(200), index=True)
    thread_id: Mapped[str] = mapped_column(String(200))
    draft_id: Mapped[int | None] = mapped_column(Integer)
    merge_group_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(20), default="en")
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(500))
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    # pending | sending | sent | blocked | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    compliance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    approved_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ShopifyStore(TenantMixin, Base):
    """A tenant's Shopify shop and the secret its webhooks are signed with (encrypted or from the env)."""

    __tablename__ = "shopify_stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(String(255), unique=True)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    secret_env: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopifyWebhook(TenantMixin, Base):
    """One webhook delivery as received; Shopify's webhook id makes a redelivery a no-op."""

    __tablename__ = "shopify_webhooks"
    __table_args__ = (UniqueConstraint("tenant_id", "webhook_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(50))
    shopify_order_id: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopifyOrderState(TenantMixin, Base):
    """The newest version of a Shopify order and of each of its fulfillments and refunds, whatever order
    their webhooks arrived in; the unified history's order is rebuilt from it."""

    __tablename__ = "shopify_order_states"
    __table_args__ = (UniqueConstraint("tenant_id", "shopify_order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shopify_order_id: Mapped[str] = mapped_column(String(50))
    order: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fulfillments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refunds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
