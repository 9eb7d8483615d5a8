"""Annotated dependencies: settings, runtime, a per-request transaction, the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from core import keys
from core.errors import ForbiddenError, UnauthorizedError
from core.runtime import Runtime
from core.settings import Settings
from embeddings.engine import SearchEngine


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with get_runtime(request).session() as session:
        yield session


def get_search(request: Request) -> SearchEngine:
    return get_runtime(request).search


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit before the response is sent. With the default ("request") FastAPI
# commits after sending it, so a crash in between loses a write the client saw acknowledged.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SearchDep = Annotated[SearchEngine, Depends(get_search)]


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    role: str
    key_id: int


def _raw_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or request.query_params.get("key")


def _principal(request: Request, minimum_role: str) -> Principal:
    raw = _raw_key(request)
    if not raw:
        raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    runtime = get_runtime(request)
    with runtime.session() as session:
        key = keys.authenticate(session, raw_key=raw)
        principal = Principal(tenant_id=key.tenant_id, role=key.role, key_id=key.id)
    if keys.ROLE_RANK[principal.role] < keys.ROLE_RANK[minimum_role]:
        raise ForbiddenError(f"this endpoint needs a {minimum_role} key; yours is {principal.role}")
    request.state.principal = principal
    return principal


def require_public(request: Request) -> Principal:
    return _principal(request, "public")


def require_agent(request: Request) -> Principal:
    return _principal(request, "agent")


def require_admin(request: Request) -> Principal:
    return _principal(request, "admin")


PublicDep = Annotated[Principal, Depends(require_public)]
AgentDep = Annotated[Principal, Depends(require_agent)]
AdminDep = Annotated[Principal, Depends(require_admin)]
