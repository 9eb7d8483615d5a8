"""Regressions found by fuzzing ticket ingest: each once answered 500."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from history.models import Ticket
from runtime import Runtime
from tests.conftest import TenantKeys


def _count(runtime: Runtime) -> int:
    with runtime.session() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_a_batch_naming_one_ticket_twice_is_refused_and_writes_nothing(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    headers = tenant.headers("agent")
    first = {"id": "t-1", "channel": "email", "body": "where is my parcel"}
    assert client.post("/v1/tickets", json=first, headers=headers).status_code == 201
    # The stored version second: its content hash matched, so it was never encoded (KeyError: 1).
    batch = {
        "tickets": [
            {**first, "body": "where is my parcel? still nothing"},
            first,
            {"id": "t-2", "channel": "email", "body": "a new one"},
        ]
    }
    response = client.post("/v1/tickets", json=batch, headers=headers)
    assert response.status_code == 422, response.text
    assert "t-1" in response.json()["error"]["message"]
    assert _count(runtime) == 1
    assert client.get("/v1/tickets/t-1", headers=headers).json()["body"] == "where is my parcel"


def test_contact_dates_outside_any_plausible_range_are_refused(
    client: TestClient, tenant: TenantKeys
) -> None:
    for created_at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59"):
        body = {"id": "t-old", "channel": "ebay", "body": "hello", "created_at": created_at}
        response = client.post("/v1/tickets", json=body, headers=tenant.headers("agent"))
        assert response.status_code == 422, response.text
        assert "created_at" in response.text
    ok = {"id": "t-ok", "channel": "ebay", "body": "hello", "created_at": "2024-02-29T10:00:00"}
    assert client.post("/v1/tickets", json=ok, headers=tenant.headers("agent")).status_code == 201


def test_row_ids_beyond_the_integer_range_are_refused_not_crashed(
    client: TestClient, tenant: TenantKeys
) -> None:
    huge = 10**22
    for method, path in (
        ("GET", f"/v1/customers/{huge}/history"),
        ("GET", f"/v1/tickets/merge/{huge}"),
        ("GET", f"/v1/tickets/merge/{-huge}"),
        ("GET", f"/v1/tickets?customer={huge}"),
    ):
        response = client.request(method, path, headers=tenant.headers("agent"))
        assert response.status_code == 422, (path, response.status_code, response.text)
    largest = client.get(f"/v1/customers/{2**31 - 1}/history", headers=tenant.headers("agent"))
    assert largest.status_code == 404
