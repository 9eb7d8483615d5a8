"""Tenants and API keys. Keys are random 32-byte tokens stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.errors import InvalidInputError, NotFoundError, UnauthorizedError
from core.models import ApiKey, Tenant

log = logging.getLogger(__name__)

Role = Literal["public", "agent", "admin"]
ROLES: tuple[str, ...] = ("public", "agent", "admin")
ROLE_RANK = {"public": 0, "agent": 1, "admin": 2}
# Writing last_used_at on every request would turn each search into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key: str) -> str:
    """The one key hash: what is stored, and what every lookup compares."""
    # A fast hash is enough: keys carry 256 bits of randomness, so there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def get_or_create_tenant(
    session: Session, *, tenant_id: str, name: str | None = None, allowed_origins: list[str] | None = None
) -> Tenant:
    """The tenant with this id, created on first use."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=name or tenant_id, allowed_origins=list(allowed_origins or []))
        session.add(tenant)
        session.flush()
    elif allowed_origins is not None:
        tenant.allowed_origins = sorted(set(tenant.allowed_origins) | set(allowed_origins))
    return tenant


def create_key(session: Session, *, tenant_id: str, role: str, label: str = "") -> tuple[ApiKey, str]:
    """Returns the stored key row and the raw key, which is never retrievable again."""
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    if session.get(Tenant, tenant_id) is None:
        raise NotFoundError(f"tenant {tenant_id!r} not found")
    raw = f"dfk_{role[:3]}_{secrets.token_urlsafe(32)}"
    key = ApiKey(tenant_id=tenant_id, role=role, prefix=raw[:12], key_hash=hash_key(raw), label=label)
    session.add(key)
    session.flush()
    return key, raw


def authenticate(session: Session, *, raw_key: str) -> ApiKey:
    """The active key matching raw_key, or UnauthorizedError (reads only)."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw_key)))
    if key is None or key.revoked_at is not None:
        raise UnauthorizedError("invalid or revoked API key")
    return key


def use_is_stale(last_used_at: datetime | None) -> bool:
    """Whether the last-use stamp is old enough to be written again."""
    return last_used_at is None or utcnow() - last_used_at > LAST_USED_RESOLUTION


def record_use(session_factory: sessionmaker[Session], *, key_id: int) -> None:
    """Stamps the key's last use, at most once per LAST_USED_RESOLUTION; best effort.

    Its own short transaction, never the request's: a failed stamp (the database busy) must not fail
    the request, and a read request must not turn into a write that holds SQLite's lock.
    """
    now = utcnow()
    try:
        with session_factory() as session, session.begin():
            session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
                )
                .values(last_used_at=now)
            )
    except OperationalError:
        log.info("database busy; last use of key %d not recorded this time", key_id)


def revoke(session: Session, *, key_id: int, tenant_id: str | None = None) -> ApiKey:
    """Marks the key revoked; it stops working at once."""
    key = session.get(ApiKey, key_id)
    if key is None or (tenant_id is not None and key.tenant_id != tenant_id):
        raise NotFoundError(f"API key {key_id} not found")
    key.revoked_at = key.revoked_at or utcnow()
    return key


def list_keys(session: Session, *, tenant_id: str) -> list[ApiKey]:
    """Every key of the tenant, newest first (hashes only)."""
    return list(
        session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id.desc()))
    )
