"""The contact form's order check: a real secret, limited attempts, and no way to tell a wrong secret,
an unknown order and a locked order apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from history import service as history_service
from history.schemas import OrderCreate
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders

ORDERS = [
    {
        "order_id": "305-7712094-3381652",
        "channel": "amazon",
        "customer": {
            "email": "3hq8v1r0w6ytf2c@marketplace.amazon.de",
            "name": "Markus Weber",
            "address": "Gneisenaustraße 27, 10961 Berlin, Germany",
        },
        "status": "delivered",
        "items": [{"sku": "HH-FJORD", "title": "Fjord bookcase", "qty": 1, "price": 149.0}],
        "shipment": {"carrier": "DHL", "tracking_number": "00340434187726305518", "status": "delivered"},
    },
    {
        "order_id": "#1044",
        "channel": "shopify",
        "customer": {
            "email": "priya.shah@example.co.uk",
            "name": "Priya Shah",
            "address": "Flat 3, 51 Gloucester Road, Bristol BS7 8AD, United Kingdom",
        },
        "status": "shipped",
        "shipment": {"carrier": "Royal Mail", "tracking_number": "RM206118093GB", "status": "in_transit"},
    },
    {
        "order_id": "#1045",
        "channel": "shopify",
        "customer": {"email": "sam@example.com", "address": "88 Orchard Lane, Edison, NJ 08817, USA"},
        "status": "shipped",
    },
]


@pytest.fixture
def world(tmp_path: Any) -> Iterator[tuple[Any, TenantKeys, Runtime]]:
    settings = Settings(
        data_dir=tmp_path / "var",
        order_check_failures_per_order=4,
        order_check_failures_per_visitor=8,
        rate_limit_public_per_minute=100_000,
    )
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    tenant = make_tenant(runtime, "acme")
    with runtime.session() as session:
        history_service.import_orders(
            session, tenant_id="acme", orders=[OrderCreate.model_validate(o) for o in ORDERS], file="test"
        )
    app = create_app(settings, runtime=runtime, warm_sync=True)
    with TestClient(app):
        yield app, tenant, runtime
    runtime.close()


def _check(app: Any, tenant: TenantKeys, ip: str = "203.0.113.7", **fields: str) -> Any:
    """One check from one visitor (the app's lifespan already runs under the fixture's client)."""
    response = TestClient(app, client=(ip, 40000)).post(
        "/v1/contact-form/suggest", json={"topic": "tracking", **fields}, headers=tenant.headers("public")
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    "order_id,secret",
    [
        ("305-7712094-3381652", {"postcode": "10961"}),
        ("305-7712094-3381652", {"postcode": " 10961 "}),
        ("305-7712094-3381652", {"email": "3HQ8V1R0W6YTF2C@marketplace.amazon.de"}),
        ("#1044", {"postcode": "bs7 8ad"}),
        ("1044", {"postcode": "BS78AD"}),
        ("#1044", {"email": "priya.shah@example.co.uk"}),
        ("#1045", {"postcode": "08817-1234"}),
    ],
)
def test_the_order_email_or_full_postcode_verifies(
    world: tuple[Any, TenantKeys, Runtime], order_id: str, secret: dict[str, str]
) -> None:
    client, tenant, _ = world
    data = _check(client, tenant, order_id=order_id, **secret).json()
    assert data["verification"] == "verified" and data["order"]["order_id"] in (
        "305-7712094-3381652",
        "#1044",
        "#1045",
    )


@pytest.mark.parametrize(
    "secret",
    [
        {"postcode": "GER"},  # a piece of the country
        {"postcode": "BER"},
        {"postcode": "109"},  # a prefix of the postcode
        {"postcode": "1096"},
        {"postcode": "27"},  # the house number
        {"postcode": "Gneisenaustraße"},
        {"postcode": "10961 Berlin"},
        {"postcode": "10962"},
        {"email": "marketplace.amazon.de"},
        {"email": "3hq8v1r0w6ytf2c"},
        {"email": "someone@example.com"},
    ],
)
def test_a_part_of_the_address_or_a_wrong_secret_reads_like_an_unknown_order(
    world: tuple[Any, TenantKeys, Runtime], secret: dict[str, str]
) -> None:
    client, tenant, _ = world
    wrong = _check(client, tenant, order_id="305-7712094-3381652", **secret)
    unknown = _check(client, tenant, ip="203.0.113.8", order_id="305-0000000-0000000", **secret)
    assert wrong.json() == unknown.json()
    assert wrong.json()["verification"] == "not_verified" and wrong.json()["order"] is None
    assert "DHL" not in wrong.text and "Fjord" not in wrong.text
    assert wrong.headers.get("content-length") == unknown.headers.get("content-length")


def test_failed_checks_lock_the_order_then_the_visitor(world: tuple[Any, TenantKeys, Runtime]) -> None:
    client, tenant, runtime = world
    order = {"order_id": "#1044"}
    # Four wrong postcodes from four visitors: the order locks for everyone, the right secret included.
    for n in range(4):
        assert (
            _check(client, tenant, ip=f"198.51.100.{n}", postcode=f"BS7 8A{n}", **order).json()["order"]
            is None
        )
    locked = _check(client, tenant, ip="198.51.100.200", postcode="BS7 8AD", **order).json()
    assert locked["verification"] == "not_verified" and locked["order"] is None
    # Other orders still verify for other visitors.
    assert _check(client, tenant, ip="198.51.100.201", postcode="08817", order_id="#1045").json()["order"]

    # One visitor guessing across many order ids (sequential Shopify numbers) is stopped after 8 failures.
    runtime.limits.reset()
    for n in range(8):
        _check(client, tenant, ip="192.0.2.50", order_id=f"#{2000 + n}", email="guess@example.com")
    blocked = _check(client, tenant, ip="192.0.2.50", order_id="#1045", email="sam@example.com").json()
    assert blocked["verification"] == "not_verified" and blocked["order"] is None
    allowed = _check(client, tenant, ip="192.0.2.51", order_id="#1045", email="sam@example.com").json()
    assert allowed["verification"] == "verified"


def test_sequential_guessing_discloses_nothing(world: tuple[Any, TenantKeys, Runtime]) -> None:
    """The probe that found the hole: a range of Shopify numbers with 3-letter pieces of addresses."""
    client, tenant, runtime = world
    disclosed = 0
    for number in range(1040, 1050):
        for piece in ("GER", "USA", "BRI", "UNI", "LAN", "NJ0"):
            runtime.limits.reset()  # even without any attempt limit
            data = _check(client, tenant, order_id=f"#{number}", postcode=piece).json()
            disclosed += data["order"] is not None
    assert disclosed == 0
