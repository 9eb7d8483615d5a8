from __future__ import annotations

from history import service
from history.identity import link_identity, unlink_identity
from history.models import Identity
from runtime import Runtime
from tests.history.helpers import add_orders, ingest, order, ticket


def test_relay_email_contact_links_by_order_id_in_text(runtime: Runtime) -> None:
    add_orders(runtime, "acme", order("302-1184736-9920417"))
    [amazon] = ingest(
        runtime,
        "acme",
        ticket(
            "t-1",
            "Where is my lamp?",
            channel="amazon",
            customer={"email": "relay1@marketplace.amazon.de", "marketplace_customer_id": "A1ANNA"},
        ),
    )
    [mail] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "My order 302-1184736-9920417 has still not arrived.",
            customer={"email": "anna.schmidt@example.de", "name": "Anna Schmidt"},
        ),
    )
    assert amazon.link == "marketplace_id"
    assert mail.link == "order"
    assert mail.ticket.customer_id == amazon.ticket.customer_id
    with runtime.session() as session:
        history = service.customer_timeline(session, tenant_id="acme", customer_id=mail.ticket.customer_id)
    email = next(i for i in history.identities if i.value == "anna.schmidt@example.de")
    assert "order 302-1184736-9920417" in email.reason
    assert email.evidence["order_id"] == "302-1184736-9920417"
    kinds = [e.kind for e in history.events]
    assert kinds == ["order", "shipment", "message", "message"]


def test_name_alone_never_links(runtime: Runtime) -> None:
    [a] = ingest(
        runtime, "acme", ticket("t-1", "Hello", customer={"name": "John Smith", "email": "js1@example.com"})
    )
    [b] = ingest(
        runtime, "acme", ticket("t-2", "Hello", customer={"name": "John Smith", "email": "js2@example.com"})
    )
    assert a.ticket.customer_id != b.ticket.customer_id
    assert b.link == "new"


def test_fuzzy_name_and_address_links_with_scores(runtime: Runtime) -> None:
    add_orders(
        runtime,
        "acme",
        order(
            "#1001",
            channel="shopify",
            customer={
                "name": "Claire Dubois",
                "email": "claire@example.fr",
                "address": "14 rue des Tanneurs, 69001 Lyon",
            },
        ),
    )
    [t] = ingest(
        runtime,
        "acme",
        ticket(
            "t-1",
            "Bonjour",
            customer={
                "name": "Dubois Claire",
                "address": "14, Rue des Tanneurs 69001 LYON",
                "email": "cd@other.fr",
            },
        ),
    )
    [far] = ingest(
        runtime,
        "acme",
        ticket("t-2", "Bonjour", customer={"name": "Claire Dubois", "address": "3 avenue Foch, 75016 Paris"}),
    )
    with runtime.session() as session:
        shop_order = service.get_order(session, tenant_id="acme", order_id="1001")
        assert shop_order is not None
        assert t.link == "name_address" and t.ticket.customer_id == shop_order.customer_id
        assert far.ticket.customer_id != shop_order.customer_id
        identity = session.query(Identity).filter_by(value="cd@other.fr").one()
        assert identity.evidence["name_score"] >= 90 and identity.evidence["address_score"] >= 85


def test_unlink_moves_contacts_and_link_restores(runtime: Runtime) -> None:
    [a] = ingest(
        runtime,
        "acme",
        ticket(
            "t-1",
            "Hi",
            channel="ebay",
            customer={"marketplace_customer_id": "buyer7", "email": "b7@example.com"},
        ),
    )
    [b] = ingest(runtime, "acme", ticket("t-2", "Hi again", customer={"email": "B7@example.com"}))
    assert b.link == "email" and a.ticket.customer_id == b.ticket.customer_id
    with runtime.session() as session:
        ticket_b = service.get_ticket(session, tenant_id="acme", ticket_id="t-2")
        old_identity_id = ticket_b.identity_id or 0
        moved = unlink_identity(
            session, tenant_id="acme", identity_id=old_identity_id, actor="agent-1", reason="different person"
        )
        new_customer = moved.customer_id
    with runtime.session() as session:
        assert service.get_ticket(session, tenant_id="acme", ticket_id="t-2").customer_id == new_customer
        assert (
            service.get_ticket(session, tenant_id="acme", ticket_id="t-1").customer_id == a.ticket.customer_id
        )
        old = session.get(Identity, old_identity_id)
        assert old is not None and old.unlinked_at is not None and old.unlinked_by == "agent-1"
        relinked = link_identity(
            session,
            tenant_id="acme",
            identity_id=moved.id,
            customer_id=a.ticket.customer_id or 0,
            actor="agent-1",
            reason="same buyer after all",
        )
        assert relinked.linked_by == "agent-1" and "same buyer after all" in relinked.reason
    with runtime.session() as session:
        assert (
            service.get_ticket(session, tenant_id="acme", ticket_id="t-2").customer_id == a.ticket.customer_id
        )
    # the index carries the new customer id
    item = runtime.search.collection("acme", "tickets").items[ticket_b.id]
    assert item.extra["customer_id"] == a.ticket.customer_id
