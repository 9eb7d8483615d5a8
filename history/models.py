"""Unified customer history: customers and their identities, orders, shipments, refunds, threads, tickets,
merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import utcnow
from core.db import Base, TenantMixin, TimestampMixin


class Customer(TenantMixin, TimestampMixin, Base):
    """One person across every channel; who they are is the set of their active identities."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")

    identities: Mapped[list[Identity]] = relationship(back_populates="customer", order_by="Identity.id")


class Identity(TenantMixin, Base):
    """A normalised identifier tied to a customer, with why it was tied; unlinking keeps the row."""

    __tablename__ = "identities"
    __table_args__ = (
        Index("ix_identities_lookup", "tenant_id", "kind", "value"),
        Index("ix_identities_postcode", "tenant_id", "kind", "postcode"),
        Index("ix_identities_name_key", "tenant_id", "kind", "name_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    # email | marketplace_id | phone | name_address
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(1000))
    # Blocking keys of name_address identities, so a fuzzy match compares one postcode's or one name's
    # identities instead of the whole tenant (history.identity.blocking_keys).
    postcode: Mapped[str | None] = mapped_column(String(20))
    name_key: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_by: Mapped[str] = mapped_column(String(100), default="auto")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unlinked_at: Mapped[datetime | None]
    unlinked_by: Mapped[str | None] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Order(TenantMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("tenant_id", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(50), default="")
    # "FBA" (fulfilled by Amazon: Amazon ships it and handles delivery and returns) or "FBM"; None = unknown.
    fulfillment: Mapped[str | None] = mapped_column(String(3))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Refund.id"
    )
    customer: Mapped[Customer | None] = relationship()


class OrderItem(TenantMixin, Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    qty: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[float] = mapped_column(Float, default=0.0)

    order: Mapped[Order] = relationship(back_populates="items")


class Shipment(TenantMixin, Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    carrier: Mapped[str] = mapped_column(String(100), default="")
    tracking_number: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(50), default="")
    eta: Mapped[datetime | None]
    status_at: Mapped[datetime | None]
    location: Mapped[str | None] = mapped_column(String(300))

    order: Mapped[Order] = relationship(back_populates="shipments")


class Refund(TenantMixin, Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    refund_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(50), default="")
    amount: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")


class Thread(TenantMixin, Base):
    """A conversation on one channel (an Amazon buyer-seller thread, an e-mail thread, a form submission)."""

    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MergeGroup(TenantMixin, Base):
    """Tickets answered as one; members keep every message, the primary receives the reply."""

    __tablename__ = "merge_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: tickets already point here, and a cycle would complicate SQLite migrations.
    primary_ticket_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | undone | superseded
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The courtesy note for each non-primary thread: [{ticket_id, channel, locale, text}].
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Exact state of every touched ticket and group before the merge, restored by undo.
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MergeAudit(TenantMixin, Base):
    __tablename__ = "merge_audits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("merge_groups.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(10))  # merge | undo
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    ticket_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Ticket(TenantMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_tickets_customer_created", "tenant_id", "customer_id", "created_at"),
        # The ticket list: newest first per tenant.
        Index("ix_tickets_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    # The identity through which this contact was tied to its customer (its strength feeds duplicate scoring).
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"))
    # marketplace_id | order | email | phone | name_address | new (first contact of a new customer) | agent
    link_kind: Mapped[str] = mapped_column(String(20), default="new")
    order_id: Mapped[str | None] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(1000), default="")
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(20), default="en")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    tag_source: Mapped[str] = mapped_column(String(10), default="import")  # import | auto
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    # The KB article the resolution rested on: past tickets vote for it when a new message is close.
    resolved_by_article: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handling_seconds: Mapped[float | None] = mapped_column(Float)
    merge_group_id: Mapped[int | None] = mapped_column(ForeignKey("merge_groups.id", ondelete="SET NULL"))
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(100))

    thread: Mapped[Thread | None] = relationship()
    customer: Mapped[Customer | None] = relationship()

    @property
    def text(self) -> str:
        """What is embedded and searched: subject and body."""
        return f"{self.subject}\n{self.body}" if self.subject else self.body


class RootCauseNote(TenantMixin, Base):
    """A lead's root cause and action owner for one reason on one channel ("all" = every channel).

    Rows are only ever added: the newest is the current note, the older ones are its history.
    """

    __tablename__ = "root_cause_notes"
    __table_args__ = (Index("ix_root_cause_notes_key", "tenant_id", "reason", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(20))
    root_cause: Mapped[str] = mapped_column(Text, default="")
    action_owner: Mapped[str] = mapped_column(String(200), default="")
    set_by: Mapped[str] = mapped_column(String(300))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSecret(Base):
    """The tenant's carrier-webhook secret, stored in clear: verifying an HMAC needs the secret itself,
    so core's Tenant.webhook_secret_hash cannot serve. Protect the database as you protect this secret."""

    __tablename__ = "webhook_secrets"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShipmentEvent(TenantMixin, Base):
    """One carrier status event as received; the unique key makes a redelivered event a no-op."""

    __tablename__ = "shipment_events"
    __table_args__ = (UniqueConstraint("tenant_id", "tracking_number", "occurred_at", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(50))
    location: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # False when a newer status was already known: kept for the record, never shown as current.
    applied: Mapped[bool] = mapped_column(Boolean, default=False)


class PrivacyAudit(TenantMixin, Base):
    """Who exported or erased a customer's personal data, when, and what was removed (counts only)."""

    __tablename__ = "privacy_audits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        Integer, index=True
    )  # no foreign key: erasure deletes the customer
    action: Mapped[str] = mapped_column(String(10))  # export | erase
    actor: Mapped[str] = mapped_column(String(100))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
