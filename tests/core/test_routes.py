from __future__ import annotations

from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.app import create_app
from api.deps import TransactionRoute, get_session
from core.settings import Settings
from runtime import Runtime


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Flattens FastAPI's lazily included routers into their routes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def _uses_session(dependant: Dependant) -> bool:
    return any(d.call is get_session or _uses_session(d) for d in dependant.dependencies)


def test_every_route_with_a_database_session_commits_in_its_worker_thread(
    settings: Settings, runtime: Runtime
) -> None:
    app = create_app(settings, runtime=runtime)
    with_session = [r for r in _api_routes(app.routes) if _uses_session(r.dependant)]
    assert len(with_session) > 20
    offenders = [f"{sorted(r.methods)} {r.path}" for r in with_session if not isinstance(r, TransactionRoute)]
    assert offenders == [], "add route_class=TransactionRoute to these routers (see api/deps.py)"
