"""Live carrier status updates: a per-tenant webhook secret, HMAC-signed events, order-independent apply.

A carrier (or the seller's shipping tool) POSTs one event per status change. The body is signed with
HMAC-SHA256 under the tenant's webhook secret and the signature sent as `X-Deflect-Signature: sha256=<hex>`.
An event changes a shipment only when it is newer than the status already recorded, so events may arrive
late, twice or out of order and the shipment still ends at the newest carrier status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError, UnauthorizedError
from core.models import Tenant
from core.schemas import UtcDateTime
from history.models import Order, Shipment, ShipmentEvent, WebhookSecret
from history.schemas import ShipmentIn

SIGNATURE_HEADER = "X-Deflect-Signature"
TENANT_HEADER = "X-Deflect-Tenant"
SIGNATURE_PREFIX = "sha256="
# When two events carry the same time, the later stage of delivery wins, whatever the arrival order.
STATUS_STAGE = {
    "label_created": 1,
    "pre_transit": 1,
    "in_transit": 2,
    "exception": 2,
    "delayed": 2,
    "out_for_delivery": 3,
    "available_for_pickup": 4,
    "delivered": 5,
    "returned": 5,
}


class ShipmentEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: str = Field(min_length=1, max_length=100)
    status: str = Field(min_length=1, max_length=50, description="Carrier status, e.g. in_transit, delivered")
    location: str | None = Field(None, max_length=300)
    occurred_at: UtcDateTime = Field(description="When the carrier recorded the status (ISO 8601 with zone)")

    @field_validator("tracking_number", "status")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class ShipmentState(BaseModel):
    order_id: str
    carrier: str
    tracking_number: str
    status: str
    status_at: datetime | None
    location: str | None


class ShipmentEventResult(BaseModel):
    tracking_number: str
    outcome: str = Field(
        description="applied | duplicate (seen before, nothing changed) | stale (older than the "
        "recorded status, kept for the record only)"
    )
    shipments: list[ShipmentState]


class WebhookSecretCreated(BaseModel):
    tenant_id: str
    secret: str = Field(description="Sign each event body with HMAC-SHA256 under this secret")
    created_at: datetime
    header: str = SIGNATURE_HEADER


def rotate_secret(session: Session, *, tenant_id: str, actor: str) -> WebhookSecretCreated:
    """Creates or replaces the tenant's webhook secret; the old one stops verifying at once."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFoundError(f"tenant {tenant_id!r} not found")
    row = session.get(WebhookSecret, tenant_id)
    if row is None:
        row = WebhookSecret(tenant_id=tenant_id)
        session.add(row)
    row.secret = f"whsec_{secrets.token_urlsafe(32)}"
    row.created_by = actor
    row.created_at = utcnow()
    session.flush()
    return WebhookSecretCreated(tenant_id=tenant_id, secret=row.secret, created_at=row.created_at)


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts in X-Deflect-Signature for this body."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(session: Session, *, tenant_id: str | None, body: bytes, signature: str | None) -> str:
    """The tenant id when the signature matches its secret; UnauthorizedError otherwise (one message for
    every cause, so a caller cannot probe which tenants exist)."""
    row = session.get(WebhookSecret, tenant_id) if tenant_id else None
    # Bytes on both sides: compare_digest refuses a str with non-ASCII characters (a TypeError, so a 500),
    # and header values may carry any byte.
    given = signature.strip().encode("utf-8", "surrogateescape") if signature else b""
    if row is None or not given or not hmac.compare_digest(sign(row.secret, body).encode("ascii"), given):
        raise UnauthorizedError(f"missing or invalid {SIGNATURE_HEADER} for tenant given in {TENANT_HEADER}")
    return row.tenant_id


def parse_event(body: bytes) -> ShipmentEventIn:
    try:
        return ShipmentEventIn.model_validate(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInputError("body is nested too deeply") from exc
    except ValidationError as exc:
        raise InvalidInputError("invalid shipment event", details=json.loads(exc.json())) from exc


def is_newer(status: str, status_at: datetime | None, shipment: Shipment) -> bool:
    """Whether a reported status (carrier event or order import) supersedes the shipment's recorded one.

    A report without a time never beats a timed status: it cannot show it is the newer of the two.
    """
    if shipment.status_at is None:
        return True
    if status_at is None:
        return False
    if status_at != shipment.status_at:
        return status_at > shipment.status_at
    new, old = status.lower(), shipment.status.lower()
    return (STATUS_STAGE.get(new, 0), new) > (STATUS_STAGE.get(old, 0), old)


def _newer(event: ShipmentEventIn, shipment: Shipment) -> bool:
    return is_newer(event.status, event.occurred_at, shipment)


def imported_shipments(
    session: Session, *, tenant_id: str, order: Order, shipment_in: ShipmentIn | None
) -> list[Shipment]:
    """The shipments an order (re-)import leaves on the order.

    An order export is a snapshot that may be hours old: where the file names the parcel already on
    record, its status replaces the recorded one only when newer, so a re-import never rolls back what a
    carrier webhook (or a fresher import) applied. Other fields follow the file.
    """
    if shipment_in is None:
        return []
    current: list[Shipment] = []
    if order.id is not None and shipment_in.tracking_number:
        # Locked as apply_event locks them, so a concurrent event and import cannot both win.
        current = list(
            session.scalars(
                select(Shipment)
                .where(Shipment.tenant_id == tenant_id, Shipment.order_id == order.id)
                .order_by(Shipment.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
    shipment = next((s for s in current if s.tracking_number == shipment_in.tracking_number), None)
    if shipment is None:
        return [
            Shipment(
                tenant_id=tenant_id,
                carrier=shipment_in.carrier,
                tracking_number=shipment_in.tracking_number,
                status=shipment_in.status,
                eta=shipment_in.eta,
                status_at=shipment_in.status_at,
                location=shipment_in.location,
            )
        ]
    shipment.carrier = shipment_in.carrier
    shipment.eta = shipment_in.eta
    if is_newer(shipment_in.status, shipment_in.status_at, shipment):
        shipment.status = shipment_in.status
        shipment.status_at = shipment_in.status_at
        shipment.location = shipment_in.location
    return [shipment]


def _state(shipment: Shipment, order_id: str) -> ShipmentState:
    return ShipmentState(
        order_id=order_id,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number or "",
        status=shipment.status,
        status_at=shipment.status_at,
        location=shipment.location,
    )


def apply_event(session: Session, *, tenant_id: str, event: ShipmentEventIn) -> ShipmentEventResult:
    """Records the event and moves every shipment with its tracking number forward if it is newer."""
    shipments = list(
        session.scalars(
            select(Shipment)
            .where(Shipment.tenant_id == tenant_id, Shipment.tracking_number == event.tracking_number)
            .options(selectinload(Shipment.order))
            .order_by(Shipment.id)
            .with_for_update()
        )
    )
    if not shipments:
        raise NotFoundError(f"no shipment with tracking number {event.tracking_number!r}")
    key = (
        ShipmentEvent.tenant_id == tenant_id,
        ShipmentEvent.tracking_number == event.tracking_number,
        ShipmentEvent.occurred_at == event.occurred_at,
        ShipmentEvent.status == event.status,
    )
    outcome = "duplicate"
    if session.scalar(select(ShipmentEvent.id).where(*key)) is None:
        applied = any(_newer(event, s) for s in shipments)
        try:
            with session.begin_nested():
                session.add(
                    ShipmentEvent(
                        tenant_id=tenant_id,
                        tracking_number=event.tracking_number,
                        status=event.status,
                        location=event.location,
                        occurred_at=event.occurred_at,
                        applied=applied,
                    )
                )
        except IntegrityError:
            applied = False  # the same event, delivered twice at the same moment: the other copy counts
        else:
            outcome = "applied" if applied else "stale"
        if applied:
            for shipment in shipments:
                if _newer(event, shipment):
                    shipment.status = event.status
                    shipment.status_at = event.occurred_at
                    shipment.location = event.location
            session.flush()
    orders = {s.order_id: s.order for s in shipments}
    return ShipmentEventResult(
        tracking_number=event.tracking_number,
        outcome=outcome,
        shipments=[_state(s, orders[s.order_id].order_id) for s in shipments],
    )
