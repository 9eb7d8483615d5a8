from __future__ import annotations

import pytest
from sqlalchemy import select, text

from history.identity import (
    _name_address_candidates,
    blocking_keys,
    contact_identities,
    name_key_of,
    postcode_of,
)
from history.models import Customer, Identity
from history.schemas import ContactIn
from runtime import Runtime
from tests.history.helpers import add_orders, ingest, order, ticket


@pytest.mark.parametrize(
    ("address", "postcode"),
    [
        ("14 rue des tanneurs 69001 lyon", "69001"),
        ("hauptstrasse 5 10115 berlin", "10115"),
        ("1600 pennsylvania ave washington dc 20500 0003", "20500"),
        ("keizersgracht 12 1015 cs amsterdam", "1015"),
        ("10 downing street london sw1a 2aa", "sw1a2aa"),
        ("24 sussex drive ottawa on k1m 1m4", "k1m1m4"),
        ("via roma 3 roma", None),
    ],
)
def test_postcode_of_normalised_addresses(address: str, postcode: str | None) -> None:
    assert postcode_of(address) == postcode


def test_name_key_ignores_token_order_and_initials() -> None:
    assert name_key_of("claire dubois") == name_key_of("dubois claire") == "cla"
    assert name_key_of("j smith") == "smi"
    assert name_key_of("") is None
    assert blocking_keys("email", "a@b.c") == (None, None)


def _identity(session: object, tenant_id: str, name: str, address: str) -> None:
    [(kind, value)] = [
        k for k in contact_identities("web", ContactIn(name=name, address=address)) if k[0] == "name_address"
    ]
    postcode, name_key = blocking_keys(kind, value)
    customer = Customer(tenant_id=tenant_id, name=name)
    customer.identities.append(
        Identity(tenant_id=tenant_id, kind=kind, value=value, postcode=postcode, name_key=name_key)
    )
    session.add(customer)  # type: ignore[attr-defined]


def test_candidates_come_from_one_block_not_the_tenant(runtime: Runtime) -> None:
    with runtime.session() as session:
        for i in range(1500):
            # Many customers, spread over other postcodes and names; only the block may be read.
            _identity(session, "acme", f"Person{i:04d} Surname{i % 37}", f"{i} Long Road, {20000 + i} Town")
        _identity(session, "acme", "Claire Dubois", "14 rue des Tanneurs, 69001 Lyon")
        _identity(session, "acme", "Marc Petit", "2 place Bellecour, 69001 Lyon")
        _identity(session, "acme", "Claire Dubois", "Rue des Tanneurs 14, Lyon")  # no postcode: name block
        _identity(session, "acme", "Claire Dubois", "3 avenue Foch, 75016 Paris")  # other postcode
        _identity(session, "other", "Claire Dubois", "14 rue des Tanneurs, 69001 Lyon")  # other tenant
    with runtime.session() as session:
        [(_, value)] = [
            k
            for k in contact_identities(
                "web", ContactIn(name="Dubois Claire", address="14, Rue des Tanneurs 69001 LYON")
            )
            if k[0] == "name_address"
        ]
        found = sorted(i.value for i in _name_address_candidates(session, "acme", value))
        assert found == [
            "claire dubois|14 rue des tanneurs 69001 lyon",
            "claire dubois|rue des tanneurs 14 lyon",
            "marc petit|2 place bellecour 69001 lyon",
        ]
        [(_, no_postcode)] = [
            k
            for k in contact_identities(
                "web", ContactIn(name="Claire Dubois", address="Rue des Tanneurs 14, Lyon")
            )
            if k[0] == "name_address"
        ]
        # Without a postcode the name block applies, across every postcode.
        assert len(_name_address_candidates(session, "acme", no_postcode)) == 3


def test_block_lookups_use_an_index(runtime: Runtime) -> None:
    with runtime.session() as session:
        for column in ("postcode", "name_key"):
            statement = select(Identity.id).where(
                Identity.tenant_id == "acme",
                Identity.kind == "name_address",
                getattr(Identity, column) == "69001",
            )
            sql = str(statement.compile(compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert f"ix_identities_{column}" in plan, plan


def test_name_and_address_links_when_only_one_side_has_a_postcode(runtime: Runtime) -> None:
    add_orders(
        runtime,
        "acme",
        order(
            "#1002",
            channel="shopify",
            customer={
                "name": "Jean Martin",
                "email": "jean@example.fr",
                "address": "8 quai Saint-Antoine 69002 Lyon",
            },
        ),
    )
    [near] = ingest(
        runtime,
        "acme",
        ticket("t-1", "Bonjour", customer={"name": "Martin Jean", "address": "8 quai Saint Antoine, Lyon"}),
    )
    [moved] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "Bonjour",
            customer={"name": "Jean Martin", "address": "41 rue de la République 13002 Marseille"},
        ),
    )
    assert near.link == "name_address"
    assert moved.link == "new" and moved.ticket.customer_id != near.ticket.customer_id
    with runtime.session() as session:
        identity = session.get(
            Identity,
            session.scalar(
                select(Identity.id).where(Identity.value == "martin jean|8 quai saint antoine lyon")
            ),
        )
        assert identity is not None and identity.evidence["block"] == "name key jea"
        assert identity.postcode is None and identity.name_key == "jea"
