"""Two tenants with near-identical tickets, customers, orders and drafts: none sees the other's data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders

MARKERS = {"alpha": "alphashop", "beta": "betastore"}
MESSAGES = [
    "Where is my parcel {m}?",
    "My mug from {m} arrived broken",
    "Please refund order {o} at {m}",
    "Cancel my {m} order {o}",
    "I need an invoice for {o} from {m}",
]


def _contact(tenant: str, n: int) -> dict[str, str]:
    # The same person (same e-mail, name) buys from both sellers: the strongest temptation to cross-link.
    return {
        "email": f"buyer{n}@example.com",
        "name": f"Buyer {n}",
        "address": f"{n} Main St, {MARKERS[tenant]}",
    }


def _tickets(tenant: str) -> list[dict[str, object]]:
    marker = MARKERS[tenant]
    return [
        {
            "id": f"t-{n}-{i}",
            "channel": "email",
            "customer": _contact(tenant, n),
            "order_id": f"#{1000 + n}",
            "created_at": f"2026-11-{10 + i:02d}T10:00:00Z",
            "body": MESSAGES[(n + i) % len(MESSAGES)].format(m=marker, o=f"#{1000 + n}"),
        }
        for n in range(4)
        for i in range(2)
    ]


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    tenants: dict[str, TenantKeys]
    customers: dict[str, set[int]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    cfg = Settings(
        data_dir=tmp_path_factory.mktemp("iso-history") / "var",
        index_sync_seconds=0.2,
        rate_limit_public_per_minute=1_000_000,
        rate_limit_per_minute=1_000_000,
        rate_limit_ip_per_minute=1_000_000,
    )
    runtime = Runtime(cfg, encoders=hashing_encoders)
    runtime.migrate()
    tenants = {name: make_tenant(runtime, name) for name in MARKERS}
    app = create_app(cfg, runtime=runtime, warm_sync=True)
    customers: dict[str, set[int]] = {}
    with TestClient(app) as client:
        for name, keys in tenants.items():
            orders = [
                {
                    "order_id": f"#{1000 + n}",
                    "channel": "shopify",
                    "customer": _contact(name, n),
                    "items": [{"sku": "MUG", "title": f"Mug {MARKERS[name]}", "qty": 1, "price": 9}],
                }
                for n in range(4)
            ]
            imported = client.post("/v1/orders/import", json=orders, headers=keys.headers("admin"))
            assert imported.status_code == 200
            response = client.post(
                "/v1/tickets", json={"tickets": _tickets(name)}, headers=keys.headers("agent")
            )
            assert response.status_code == 201, response.text
            customers[name] = {r["ticket"]["customer_id"] for r in response.json()["results"]}
        for name in MARKERS:
            runtime.search.catch_up(name, "tickets")
        yield World(client=client, runtime=runtime, tenants=tenants, customers=customers)
    runtime.close()


def _other(name: str) -> str:
    return "beta" if name == "alpha" else "alpha"


def _assert_clean(payload: object, tenant: str) -> None:
    assert MARKERS[_other(tenant)] not in json.dumps(payload)


ticket_ids = st.sampled_from([f"t-{n}-{i}" for n in range(4) for i in range(2)])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tenant=st.sampled_from(sorted(MARKERS)), ticket_id=ticket_ids, min_score=st.sampled_from([0.0, 0.1, None])
)
def test_tickets_and_duplicates_stay_inside_the_tenant(
    world: World, tenant: str, ticket_id: str, min_score: float | None
) -> None:
    headers = world.tenants[tenant].headers("agent")
    ticket = world.client.get(f"/v1/tickets/{ticket_id}", headers=headers)
    assert ticket.status_code == 200
    assert MARKERS[tenant] in ticket.json()["body"]
    _assert_clean(ticket.json(), tenant)
    query = "" if min_score is None else f"?min_score={min_score}&top_k=50"
    duplicates = world.client.get(f"/v1/tickets/{ticket_id}/duplicates{query}", headers=headers)
    assert duplicates.status_code == 200, duplicates.text
    _assert_clean(duplicates.json(), tenant)
    assert {c["customer_id"] for c in duplicates.json()["candidates"]} <= world.customers[tenant]


def test_duplicate_search_is_not_vacuous(world: World) -> None:
    """With min_score 0 every same-tenant ticket in the window is a candidate; none of the twin tenant's."""
    for name, keys in world.tenants.items():
        found = world.client.get(
            "/v1/tickets/t-0-0/duplicates?min_score=0&top_k=50", headers=keys.headers("agent")
        )
        candidates = found.json()["candidates"]
        assert len(candidates) >= 3
        _assert_clean(found.json(), name)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tenant=st.sampled_from(sorted(MARKERS)), which=st.integers(0, 3))
def test_customer_history_and_export_only_for_own_customers(world: World, tenant: str, which: int) -> None:
    headers = world.tenants[tenant].headers("agent")
    own = sorted(world.customers[tenant])[which % len(world.customers[tenant])]
    foreign = sorted(world.customers[_other(tenant)])[which % len(world.customers[_other(tenant)])]
    history = world.client.get(f"/v1/customers/{own}/history", headers=headers)
    assert history.status_code == 200
    _assert_clean(history.json(), tenant)
    export = world.client.get(f"/v1/customers/{own}/export", headers=headers)
    assert export.status_code == 200
    _assert_clean(export.json(), tenant)
    for path in (f"/v1/customers/{foreign}/history", f"/v1/customers/{foreign}/export"):
        assert world.client.get(path, headers=headers).status_code == 404


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tenant=st.sampled_from(sorted(MARKERS)),
    ticket_id=ticket_ids,
    text=st.sampled_from(["where is order #1001", "refund for #1002 please", "invoice for #1003"]),
)
def test_drafts_use_only_the_tenants_orders_and_tickets(
    world: World, tenant: str, ticket_id: str, text: str
) -> None:
    headers = world.tenants[tenant].headers("agent")
    from_ticket = world.client.post(
        "/v1/drafts", json={"ticket_id": ticket_id, "rewrite": False}, headers=headers
    )
    assert from_ticket.status_code == 200, from_ticket.text
    _assert_clean(from_ticket.json(), tenant)
    from_text = world.client.post(
        "/v1/drafts", json={"text": text, "channel": "email", "rewrite": False}, headers=headers
    )
    assert from_text.status_code == 200, from_text.text
    _assert_clean(from_text.json(), tenant)
    assert from_text.json()["customer_id"] in world.customers[tenant] | {None}


def test_drafts_do_read_the_tenants_own_order_facts(world: World) -> None:
    for name, keys in world.tenants.items():
        draft = world.client.post(
            "/v1/drafts", json={"ticket_id": "t-1-0", "rewrite": False}, headers=keys.headers("agent")
        ).json()
        assert draft["customer_id"] in world.customers[name]
        assert any(q["order_id"] in ("1001", "#1001") for q in draft["questions"]), draft["questions"]
