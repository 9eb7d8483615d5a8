"""Admin: API keys (raw key shown once at creation) and the tenant's allowed browser origins."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api import security
from api.deps import AdminDep, RowId, SessionDep, TransactionRoute
from core import keys
from core.errors import ConflictError
from core.models import ApiKey

router = APIRouter(prefix="/v1", tags=["keys"], route_class=TransactionRoute)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["public", "agent", "admin"]
    label: str = Field("", max_length=200)


class KeyRead(BaseModel):
    id: int
    role: str
    label: str
    prefix: str = Field(
        description="First characters of the key, to recognise it; the key itself is not stored"
    )
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    key: str = Field(description="The raw key. It is shown only in this response; store it now.")


class OriginsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origins: list[str] = Field(
        max_length=security.MAX_ORIGINS,
        description="Browser origins allowed to call with this tenant's keys, e.g. https://shop.example",
    )


class OriginsRead(BaseModel):
    origins: list[str]


def _read(key: ApiKey) -> KeyRead:
    return KeyRead(
        id=key.id,
        role=key.role,
        label=key.label,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _invalidate(request: Request) -> None:
    guard = getattr(request.app.state, "security", None)
    if guard is not None:
        guard.invalidate()


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, principal: AdminDep, session: SessionDep) -> KeyCreated:
    """Creates a key of this tenant; the raw key is in this response only."""
    key, raw = keys.create_key(session, tenant_id=principal.tenant_id, role=body.role, label=body.label)
    return KeyCreated(**_read(key).model_dump(), key=raw)


@router.get("/keys", response_model=list[KeyRead])
def list_keys(principal: AdminDep, session: SessionDep) -> list[KeyRead]:
    """Every key of this tenant, newest first, without secrets."""
    return [_read(k) for k in keys.list_keys(session, tenant_id=principal.tenant_id)]


@router.delete("/keys/{key_id}", response_model=KeyRead)
def revoke_key(key_id: RowId, principal: AdminDep, session: SessionDep, request: Request) -> KeyRead:
    """Revokes a key of this tenant at once; the last active admin key cannot be revoked (lock-out)."""
    active_admins = [
        k.id
        for k in keys.list_keys(session, tenant_id=principal.tenant_id)
        if k.role == "admin" and k.revoked_at is None
    ]
    if active_admins == [key_id]:
        raise ConflictError("this is the tenant's last active admin key; create another admin key first")
    key = keys.revoke(session, key_id=key_id, tenant_id=principal.tenant_id)
    _invalidate(request)
    return _read(key)


@router.get("/tenant/origins", response_model=OriginsRead)
def get_origins(principal: AdminDep, session: SessionDep) -> OriginsRead:
    """Browser origins allowed to use this tenant's keys (CORS)."""
    return OriginsRead(origins=security.allowed_origins(session, tenant_id=principal.tenant_id))


@router.put("/tenant/origins", response_model=OriginsRead)
def put_origins(
    body: OriginsUpdate, principal: AdminDep, session: SessionDep, request: Request
) -> OriginsRead:
    """Replaces the allowed origins; takes effect on every replica within a few seconds."""
    origins = security.set_allowed_origins(session, tenant_id=principal.tenant_id, origins=body.origins)
    _invalidate(request)
    return OriginsRead(origins=origins)
