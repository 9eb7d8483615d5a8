"""Keys and roles: every route needs a key of the right role and tenant; revocation is immediate."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import deps
from core.models import ApiKey
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant

UNAUTHENTICATED = {"/healthz", "/readyz", "/metrics"}
# Authenticated by an HMAC signature of the body instead of a key (carrier and Shopify webhooks).
SIGNED = {"/v1/shipments/events", "/v1/channels/shopify/webhooks"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # These tests call every route with a public key; the public burst (30) is not what they check.
    return settings.model_copy(
        update={"rate_limit_public_per_minute": 1_000_000, "rate_limit_ip_per_minute": 1_000_000}
    )


def _needed_role(route: APIRoute) -> str | None:
    """The role a route's dependencies demand, read from the route itself so new routes are covered."""
    names = {d.call for d in route.dependant.dependencies}
    for role, dependency in (
        ("admin", deps.require_admin),
        ("agent", deps.require_agent),
        ("public", deps.require_public),
    ):
        if dependency in names:
            return role
    return None


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, looking inside the routers that include_router wraps (FastAPI >= 0.16x)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(list(route.original_router.routes))
    return found


def _routes(client: TestClient) -> list[tuple[str, str, str | None]]:
    out = []
    for route in api_routes(list(client.app.routes)):  # type: ignore[attr-defined]
        if not route.path.startswith("/v1"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, path, _needed_role(route)))
    return out


def test_every_v1_route_requires_a_key(client: TestClient) -> None:
    routes = _routes(client)
    assert len(routes) >= 5
    for method, path, role in routes:
        if path in UNAUTHENTICATED:
            continue
        assert role is not None or path in SIGNED, f"{method} {path} has no key dependency"
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "unauthorized"


def test_lower_roles_are_refused_by_higher_role_routes(client: TestClient, tenant: TenantKeys) -> None:
    rank = {"public": 0, "agent": 1, "admin": 2}
    checked = 0
    for method, path, role in _routes(client):
        if role is None:
            continue
        for caller in ("public", "agent"):
            if rank[caller] < rank[role]:
                response = client.request(method, path, json={}, headers=tenant.headers(caller))
                assert response.status_code == 403, (caller, method, path, response.status_code)
                checked += 1
    # At least the article writes and the key admin routes exist in every build.
    assert checked >= 10


def test_public_key_reads_no_customer_ticket_or_draft_data(client: TestClient, tenant: TenantKeys) -> None:
    private = (
        "/v1/customers",
        "/v1/tickets",
        "/v1/drafts",
        "/v1/history",
        "/v1/keys",
        "/v1/tenant",
        "/v1/macros",
        "/v1/reports",
    )
    for method, path, role in _routes(client):
        if path.startswith(private) and not (method == "POST" and path == "/v1/tickets/form"):
            assert role in ("agent", "admin"), f"{method} {path} is open to {role} keys"


def test_created_key_is_shown_once_and_stored_hashed(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    created = client.post(
        "/v1/keys", json={"role": "agent", "label": "night shift"}, headers=tenant.headers("admin")
    )
    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("dfk_age_")
    listed = client.get("/v1/keys", headers=tenant.headers("admin")).json()
    assert raw not in str(listed)
    assert {k["label"] for k in listed} >= {"night shift"}
    with runtime.session() as session:
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert raw not in stored and all(len(h) == 64 for h in stored)
    assert client.get("/v1/articles", headers={"X-API-Key": raw}).status_code == 200
    assert client.get("/v1/articles", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_revoked_key_stops_at_once_and_records_last_use(client: TestClient, tenant: TenantKeys) -> None:
    admin = tenant.headers("admin")
    created = client.post("/v1/keys", json={"role": "public"}, headers=admin).json()
    key = {"X-API-Key": created["key"]}
    assert client.post("/v1/suggest", json={"query": "where is my parcel"}, headers=key).status_code == 200
    listed = {k["id"]: k for k in client.get("/v1/keys", headers=admin).json()}
    assert listed[created["id"]]["last_used_at"] is not None
    revoked = client.delete(f"/v1/keys/{created['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    response = client.post("/v1/suggest", json={"query": "where is my parcel"}, headers=key)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid or revoked API key"


def test_the_last_admin_key_cannot_be_revoked(client: TestClient, tenant: TenantKeys) -> None:
    admin = tenant.headers("admin")
    own_id = next(k["id"] for k in client.get("/v1/keys", headers=admin).json() if k["role"] == "admin")
    response = client.delete(f"/v1/keys/{own_id}", headers=admin)
    assert response.status_code == 409
    second = client.post("/v1/keys", json={"role": "admin"}, headers=admin).json()
    assert client.delete(f"/v1/keys/{own_id}", headers=admin).status_code == 200
    assert client.get("/v1/keys", headers=admin).status_code == 401
    assert client.get("/v1/keys", headers={"X-API-Key": second["key"]}).status_code == 200


def test_keys_of_another_tenant_are_invisible(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    other = make_tenant(runtime, "globex")
    other_ids = {k["id"] for k in client.get("/v1/keys", headers=other.headers("admin")).json()}
    mine = {k["id"] for k in client.get("/v1/keys", headers=tenant.headers("admin")).json()}
    assert other_ids and not other_ids & mine
    for key_id in other_ids:
        assert client.delete(f"/v1/keys/{key_id}", headers=tenant.headers("admin")).status_code == 404
    assert client.get("/v1/articles", headers=other.headers("public")).status_code == 200


def test_bad_roles_and_garbage_keys_are_refused(client: TestClient, tenant: TenantKeys) -> None:
    bad_role = client.post("/v1/keys", json={"role": "root"}, headers=tenant.headers("admin"))
    assert bad_role.status_code == 422
    for garbage in ("x", "dfk_adm_" + "A" * 43, "' OR 1=1 --", "\u202edfk", "k" * 5000):
        response = client.get("/v1/articles", headers={"X-API-Key": garbage.encode("utf-8")})  # type: ignore[dict-item]
        assert response.status_code == 401
