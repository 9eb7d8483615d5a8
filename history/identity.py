"""Identity resolution: normalise identifiers, recognise order ids, tie a contact to a customer,
link/unlink."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.changes import record_changes
from core.clock import utcnow
from core.errors import ConflictError, NotFoundError
from history.models import Customer, Identity, Order, Ticket
from history.schemas import ContactIn

TICKETS = "tickets"

# Strength of each way a contact can be tied to a customer; it weighs the "same person" evidence
# in duplicate scoring. "new" is the contact that created the customer, so it is the customer.
LINK_STRENGTH: dict[str, float] = {
    "new": 1.0,
    "agent": 1.0,
    "marketplace_id": 1.0,
    "order": 0.9,
    "email": 0.8,
    "phone": 0.7,
    "name_address": 0.5,
}
LINK_LABEL: dict[str, str] = {
    "new": "first contact of this customer",
    "agent": "linked by an agent",
    "marketplace_id": "same marketplace buyer id",
    "order": "same order id",
    "email": "same e-mail address",
    "phone": "same phone number",
    "name_address": "same name and postal address (fuzzy)",
}
NAME_MIN = 90.0
ADDRESS_MIN = 85.0

# Marketplaces hide the buyer behind relay addresses; they are stable per buyer (Amazon) or
# per order, so they are matched exactly and never stripped of "+tags".
RELAY_DOMAINS = ("marketplace.amazon.", "members.ebay.", "relay.walmart.", "ebay.com", "walmart.com")

_AMAZON = re.compile(r"(?<![\d-])\d{3}-\d{7}-\d{7}(?![\d-])")
_EBAY = re.compile(r"(?<![\d-])\d{2}-\d{5}-\d{5}(?![\d-])")
_WALMART = re.compile(r"(?<![\d+\-])\d{13,15}(?![\d-])")
_SHOPIFY = re.compile(r"(?<![\w#])#\s?(\d{3,9})(?![\d-])")


def find_order_ids(text: str) -> list[str]:
    """Order ids in free text, in order of appearance, without repeats.

    Amazon 123-1234567-1234567, eBay 12-12345-12345, Walmart 13-15 digits, Shopify #1001.
    """
    found: list[tuple[int, str]] = []
    for pattern in (_AMAZON, _EBAY, _WALMART):
        found += [(m.start(), m.group(0)) for m in pattern.finditer(text)]
    found += [(m.start(), f"#{m.group(1)}") for m in _SHOPIFY.finditer(text)]
    seen: dict[str, None] = {}
    for _, value in sorted(found):
        seen.setdefault(value, None)
    return list(seen)


def canonical_order_id(value: str) -> str:
    """Shopify numbers are stored with their '#', whether or not the channel sent it."""
    value = value.strip()
    if re.fullmatch(r"#?\s?\d{3,9}", value):
        return "#" + value.lstrip("#").strip()
    return value


def order_id_variants(value: str) -> list[str]:
    canonical = canonical_order_id(value)
    return [canonical, canonical[1:]] if canonical.startswith("#") else [canonical]


def normalise_email(value: str) -> str | None:
    value = value.strip().lower()
    if value.count("@") != 1:
        return None
    local, domain = value.split("@")
    if not local or "." not in domain:
        return None
    if not any(relay in domain for relay in RELAY_DOMAINS):
        local = local.split("+", 1)[0]
    return f"{local}@{domain}"


def normalise_phone(value: str) -> str | None:
    """E.164 when the number carries its country code; national numbers are kept as bare digits."""
    raw = value.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6:
        return None
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


def normalise_text(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^\w]+", " ", plain).strip()


_ZIP5 = re.compile(r"\b\d{5}\b")
_ZIP4 = re.compile(r"\b\d{4}\b")
_UK = re.compile(r"\b([a-z]{1,2}\d[a-z\d]?) ?(\d[a-z]{2})\b")
_CANADA = re.compile(r"\b([a-z]\d[a-z]) ?(\d[a-z]\d)\b")
NAME_KEY_CHARS = 3


def postcode_of(address: str) -> str | None:
    """The postcode in a normalised address: the last 5-digit group (a US ZIP+4 keeps its 5 digits),
    else the last 4-digit group, else a UK or Canadian code; None when there is none."""
    for pattern in (_ZIP5, _ZIP4):
        found = pattern.findall(address)
        if found:
            return str(found[-1])
    for pattern in (_UK, _CANADA):
        match = pattern.search(address)
        if match:
            return match.group(1) + match.group(2)
    return None


def name_key_of(name: str) -> str | None:
    """Order-free name block: the first letters of the alphabetically first name token
    ("Dubois Claire" and "Claire Dubois" share "cla")."""
    tokens = sorted(t for t in name.split() if len(t) > 1)
    return tokens[0][:NAME_KEY_CHARS] if tokens else None


def blocking_keys(kind: str, value: str) -> tuple[str | None, str | None]:
    """(postcode, name_key) stored on a name_address identity; other kinds are matched exactly."""
    if kind != "name_address":
        return None, None
    name, _, address = value.partition("|")
    return postcode_of(address), name_key_of(name)


def contact_identities(channel: str, contact: ContactIn) -> list[tuple[str, str]]:
    """(kind, normalised value) pairs of a contact, strongest first. A name alone yields nothing."""
    out: list[tuple[str, str]] = []
    if contact.marketplace_customer_id and contact.marketplace_customer_id.strip():
        out.append(("marketplace_id", f"{channel}:{contact.marketplace_customer_id.strip()}"))
    if contact.email and (email := normalise_email(contact.email)):
        out.append(("email", email))
    if contact.phone and (phone := normalise_phone(contact.phone)):
        out.append(("phone", phone))
    if contact.name and contact.address:
        name, address = normalise_text(contact.name), normalise_text(contact.address)
        if name and address:
            out.append(("name_address", f"{name}|{address}"))
    return out


@dataclass
class Resolution:
    customer: Customer
    identity: Identity | None
    kind: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _active(session: Session, tenant_id: str, kind: str, value: str) -> Identity | None:
    return session.scalar(
        select(Identity)
        .where(
            Identity.tenant_id == tenant_id,
            Identity.kind == kind,
            Identity.value == value,
            Identity.unlinked_at.is_(None),
        )
        .order_by(Identity.id)
        .limit(1)
    )


def _name_address_candidates(session: Session, tenant_id: str, value: str) -> list[Identity]:
    """Active name_address identities in the same block: the same postcode when both addresses carry
    one, else the same name key. Never the whole tenant, so resolution cost stays flat as it grows."""
    postcode, name_key = blocking_keys("name_address", value)
    if postcode is None and name_key is None:
        return []
    if postcode is not None:
        block = Identity.postcode == postcode
        if name_key is not None:
            # A stored address without a postcode can still be the same place written more briefly.
            block = block | ((Identity.postcode.is_(None)) & (Identity.name_key == name_key))
    else:
        block = Identity.name_key == name_key
    return list(
        session.scalars(
            select(Identity).where(
                Identity.tenant_id == tenant_id,
                Identity.kind == "name_address",
                block,
                Identity.unlinked_at.is_(None),
            )
        )
    )


def _block_label(value: str, hit: Identity) -> str:
    postcode, name_key = blocking_keys("name_address", value)
    if postcode is not None and hit.postcode == postcode:
        return f"postcode {postcode}"
    return f"name key {name_key}"


def _fuzzy_name_address(session: Session, tenant_id: str, value: str) -> tuple[Identity, float, float] | None:
    name, _, address = value.partition("|")
    best: tuple[Identity, float, float] | None = None
    for row in _name_address_candidates(session, tenant_id, value):
        other_name, _, other_address = row.value.partition("|")
        name_score = fuzz.token_sort_ratio(name, other_name)
        if name_score < NAME_MIN:
            continue
        # Both must agree: two "John Smith"s at different addresses are two people.
        address_score = fuzz.token_set_ratio(address, other_address)
        if address_score < ADDRESS_MIN:
            continue
        if best is None or name_score + address_score > best[1] + best[2]:
            best = (row, name_score, address_score)
    return best


def resolve_contact(
    session: Session,
    *,
    tenant_id: str,
    channel: str,
    contact: ContactIn,
    order_ids: Iterable[str],
    source: str,
) -> Resolution:
    """Finds the customer behind a contact, strongest evidence first; creates one when nothing matches."""
    keys = contact_identities(channel, contact)
    by_kind = {kind: value for kind, value in keys}
    resolution: Resolution | None = None

    if "marketplace_id" in by_kind and (
        hit := _active(session, tenant_id, "marketplace_id", by_kind["marketplace_id"])
    ):
        resolution = Resolution(
            hit.customer,
            hit,
            "marketplace_id",
            f"same marketplace buyer id {by_kind['marketplace_id']}",
            {"identity_id": hit.id, "value": hit.value},
        )
    if resolution is None:
        for order_id in order_ids:
            order = session.scalar(
                select(Order).where(
                    Order.tenant_id == tenant_id,
                    Order.order_id.in_(order_id_variants(order_id)),
                    Order.customer_id.is_not(None),
                )
            )
            if order is not None and order.customer is not None:
                resolution = Resolution(
                    order.customer,
                    None,
                    "order",
                    f"order {order.order_id} ({order.channel}) belongs to this customer",
                    {"order_id": order.order_id, "order_channel": order.channel},
                )
                break
    for kind in ("email", "phone"):
        if (
            resolution is None
            and kind in by_kind
            and (hit := _active(session, tenant_id, kind, by_kind[kind]))
        ):
            resolution = Resolution(
                hit.customer,
                hit,
                kind,
                f"same {LINK_LABEL[kind].split(' ', 1)[1]} {hit.value}",
                {"identity_id": hit.id, "value": hit.value},
            )
    if resolution is None and "name_address" in by_kind:
        fuzzy = _fuzzy_name_address(session, tenant_id, by_kind["name_address"])
        if fuzzy is not None:
            hit, name_score, address_score = fuzzy
            resolution = Resolution(
                hit.customer,
                hit,
                "name_address",
                f"name and address match {hit.value!r} (name {name_score:.0f}/100, address "
                f"{address_score:.0f}/100)",
                {
                    "identity_id": hit.id,
                    "value": hit.value,
                    "name_score": round(name_score, 1),
                    "address_score": round(address_score, 1),
                    "block": _block_label(by_kind["name_address"], hit),
                },
            )
    if resolution is None:
        customer = Customer(tenant_id=tenant_id, name=(contact.name or "").strip())
        session.add(customer)
        session.flush()
        resolution = Resolution(
            customer, None, "new", f"no earlier contact matched; new customer from {source}"
        )
    elif not resolution.customer.name and contact.name:
        resolution.customer.name = contact.name.strip()

    _attach_identities(session, tenant_id=tenant_id, resolution=resolution, keys=keys, source=source)
    return resolution


def _attach_identities(
    session: Session, *, tenant_id: str, resolution: Resolution, keys: list[tuple[str, str]], source: str
) -> None:
    """Records every identifier of the contact on the customer, with the reason it belongs there."""
    customer = resolution.customer
    for kind, value in keys:
        existing = _active(session, tenant_id, kind, value)
        if existing is not None:
            if existing.customer_id != customer.id:
                # Two customers share an identifier: flag it for an agent instead of merging people silently.
                resolution.evidence.setdefault("conflicts", []).append(
                    {"kind": kind, "value": value, "customer_id": existing.customer_id}
                )
            elif resolution.identity is None:
                resolution.identity = existing
            continue
        reason = (
            f"first seen on {source}"
            if resolution.kind == "new"
            else f"seen on {source}, tied to this customer by {resolution.reason}"
        )
        postcode, name_key = blocking_keys(kind, value)
        identity = Identity(
            tenant_id=tenant_id,
            customer_id=customer.id,
            kind=kind,
            value=value,
            reason=reason,
            evidence={"source": source, "link": resolution.kind, **resolution.evidence},
            linked_by="auto",
            postcode=postcode,
            name_key=name_key,
        )
        session.add(identity)
        session.flush()
        if resolution.identity is None:
            resolution.identity = identity


# -- manual link / unlink ----------------------------------------------------------------


def _move_contacts(session: Session, *, tenant_id: str, old: Identity, new: Identity) -> list[int]:
    """Moves the tickets and orders that were tied through `old` to `new`'s customer."""
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.identity_id == old.id))
    )
    for ticket in tickets:
        ticket.customer_id, ticket.identity_id, ticket.link_kind = new.customer_id, new.id, "agent"
    for order in session.scalars(
        select(Order).where(Order.tenant_id == tenant_id, Order.identity_id == old.id)
    ):
        order.customer_id, order.identity_id = new.customer_id, new.id
    session.flush()
    # The index carries each ticket's customer id, used for same-customer candidates.
    record_changes(
        session, tenant_id=tenant_id, collection=TICKETS, item_ids=[t.id for t in tickets], op="upsert"
    )
    return [t.id for t in tickets]


def get_identity(session: Session, *, tenant_id: str, identity_id: int) -> Identity:
    identity = session.get(Identity, identity_id)
    if identity is None or identity.tenant_id != tenant_id:
        raise NotFoundError(f"identity {identity_id} not found")
    return identity


def link_identity(
    session: Session, *, tenant_id: str, identity_id: int, customer_id: int, actor: str, reason: str
) -> Identity:
    """An agent ties an identity (and the contacts that came through it) to another customer."""
    old = get_identity(session, tenant_id=tenant_id, identity_id=identity_id)
    if old.unlinked_at is not None:
        raise ConflictError(f"identity {identity_id} is already unlinked; link its successor instead")
    target = session.get(Customer, customer_id)
    if target is None or target.tenant_id != tenant_id:
        raise NotFoundError(f"customer {customer_id} not found")
    if old.customer_id == customer_id:
        raise ConflictError(f"identity {identity_id} already belongs to customer {customer_id}")
    return _replace(
        session,
        tenant_id=tenant_id,
        old=old,
        customer=target,
        actor=actor,
        reason=f"linked by {actor}: {reason}",
    )


def unlink_identity(
    session: Session, *, tenant_id: str, identity_id: int, actor: str, reason: str
) -> Identity:
    """Undoes a link: the identity and its contacts move to a customer of their own."""
    old = get_identity(session, tenant_id=tenant_id, identity_id=identity_id)
    if old.unlinked_at is not None:
        raise ConflictError(f"identity {identity_id} is already unlinked")
    customer = Customer(tenant_id=tenant_id, name=old.customer.name)
    session.add(customer)
    session.flush()
    return _replace(
        session,
        tenant_id=tenant_id,
        old=old,
        customer=customer,
        actor=actor,
        reason=f"unlinked from customer {old.customer_id} by {actor}: {reason}",
    )


def _replace(
    session: Session, *, tenant_id: str, old: Identity, customer: Customer, actor: str, reason: str
) -> Identity:
    old.unlinked_at = utcnow()
    old.unlinked_by = actor
    new = Identity(
        tenant_id=tenant_id,
        customer_id=customer.id,
        kind=old.kind,
        value=old.value,
        reason=reason,
        evidence={"previous_identity_id": old.id, "previous_customer_id": old.customer_id},
        linked_by=actor,
        postcode=old.postcode,
        name_key=old.name_key,
    )
    session.add(new)
    session.flush()
    _move_contacts(session, tenant_id=tenant_id, old=old, new=new)
    return new
