"""Annotated dependencies: settings, runtime, a per-request transaction, the calling principal."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from api.security import Caller, Principal
from core import keys
from core.errors import ForbiddenError, UnauthorizedError
from core.schemas import MAX_ROW_ID
from core.settings import Settings
from indexing.engine import SearchEngine
from kb.contact_form import OrderCheckLimits
from runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error.

    Routes of a `TransactionRoute` router have already committed their writes in the worker
    thread; this commits what ran after (lazy loads while the response was built).
    """
    session = get_runtime(request).session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _commit_in_worker_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                value.commit()
        return result

    return run


class TransactionRoute(APIRoute):
    """Commits a sync route's request transaction in its worker thread, before the response is built.

    FastAPI validates a sync route's response in another worker thread and only then closes the
    session dependency. A transaction still open at that point holds SQLite's write lock (and a
    pooled connection) while waiting for a free worker, and under load every worker may be
    waiting for that very lock or connection: a deadlock that only the 30 s timeouts break.
    Use it for every router whose routes take a SessionDep.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commit_in_worker_thread(endpoint), **kwargs)


def get_search(request: Request) -> SearchEngine:
    return get_runtime(request).search


def client_ip(request: Request) -> str:
    """The caller's address as the security middleware resolved it (proxy headers only when trusted)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is not None:
        return caller.ip
    return request.client.host if request.client else "unknown"


def get_order_check_limits(request: Request) -> OrderCheckLimits:
    settings = get_settings_dep(request)
    return OrderCheckLimits(
        limits=get_runtime(request).limits,
        visitor=client_ip(request),
        per_order=settings.order_check_failures_per_order,
        per_visitor=settings.order_check_failures_per_visitor,
    )


RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit before the response is sent. With the default ("request") FastAPI
# commits after sending it, so a crash in between loses a write the client saw acknowledged.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SearchDep = Annotated[SearchEngine, Depends(get_search)]
OrderCheckDep = Annotated[OrderCheckLimits, Depends(get_order_check_limits)]


def _principal(request: Request, minimum_role: str) -> Principal:
    """The principal the security middleware looked up for this request; no lookup of its own."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None or not caller.key_presented:
        raise UnauthorizedError("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    if caller.principal is None:
        raise UnauthorizedError(caller.problem or "invalid or revoked API key")
    principal = caller.principal
    if keys.ROLE_RANK[principal.role] < keys.ROLE_RANK[minimum_role]:
        raise ForbiddenError(f"this endpoint needs a {minimum_role} key; yours is {principal.role}")
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
