"""Duplicate detection with the model-free hashing encoder: wording overlap stands in for meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from history import service
from history.duplicates import duplicates_of, name_similarity
from runtime import Runtime
from tests.history.helpers import add_orders, ingest, order, ticket

WHERE = "Where is my parcel? The tracking has not moved for five days and the lamp has still not arrived."
WHERE_AGAIN = "My parcel has still not arrived, the tracking has not moved for days. Where is my lamp?"


def test_cross_channel_recontact_is_flagged_with_reasons(runtime: Runtime) -> None:
    add_orders(runtime, "acme", order("302-1184736-9920417"))
    ingest(
        runtime,
        "acme",
        ticket(
            "t-1", WHERE, channel="amazon", tags=["tracking"], customer={"marketplace_customer_id": "A1ANNA"}
        ),
    )
    [result] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            WHERE_AGAIN + " Order 302-1184736-9920417.",
            created_at="2026-11-04T09:00:00Z",
            tags=["tracking"],
            customer={"email": "anna@example.de"},
        ),
    )
    assert [d.ticket_id for d in result.duplicates] == ["t-1"]
    reasons = " | ".join(result.duplicates[0].reasons)
    assert "same customer (same order id)" in reasons and "same reason: tracking" in reasons


def test_hard_negative_different_customers_same_generic_text(runtime: Runtime) -> None:
    ingest(
        runtime,
        "acme",
        ticket(
            "t-1",
            "Where is my order?",
            tags=["tracking"],
            customer={"email": "a@example.com", "name": "Ann Lee"},
        ),
    )
    [result] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "Where is my order?",
            tags=["tracking"],
            customer={"email": "b@example.com", "name": "Bo Chan"},
        ),
    )
    assert result.duplicates == []
    with runtime.session() as session:
        _, near = duplicates_of(
            session, runtime.search, tenant_id="acme", ticket_id="t-2", window_days=14, min_score=0.0
        )
    assert near[0].ticket_id == "t-1" and near[0].similarity > 0.99 and not near[0].is_duplicate
    assert "different customers and no shared order" in near[0].reasons


def test_hard_negative_same_customer_different_problem(runtime: Runtime) -> None:
    customer = {"email": "anna@example.de"}
    ingest(runtime, "acme", ticket("t-1", WHERE, tags=["tracking"], customer=customer))
    [result] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "Could you send me an invoice with VAT for my company? I need it for my accounting.",
            tags=["invoice"],
            customer=customer,
            created_at="2026-11-04T09:00:00Z",
        ),
    )
    assert result.ticket.customer_id is not None
    assert result.duplicates == []


def test_the_same_full_name_on_a_marketplace_alias_and_a_personal_address_is_a_recontact(
    runtime: Runtime,
) -> None:
    ingest(
        runtime,
        "acme",
        ticket(
            "t-1",
            WHERE,
            channel="amazon",
            tags=["tracking"],
            customer={"email": "x7q2@marketplace.amazon.es", "name": "Rocío Manzano Prieto"},
        ),
    )
    [again] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            # Worded apart enough (trigram cosine 0.48) that the shared name has to carry it.
            "Still waiting for my lamp, the courier page shows no movement.",
            created_at="2026-11-04T09:00:00Z",
            tags=["tracking"],
            customer={"email": "rocio.manzano@example.es", "name": "Rocío Manzano"},
        ),
    )
    assert [d.ticket_id for d in again.duplicates] == ["t-1"]
    # The same name asking about something else is a second problem, not a re-contact.
    [other] = ingest(
        runtime,
        "acme",
        ticket(
            "t-3",
            "Could you send me an invoice with VAT for my company? I need it for my accounting.",
            created_at="2026-11-05T09:00:00Z",
            tags=["invoice"],
            customer={"email": "rm@example.org", "name": "Rocío Manzano"},
        ),
    )
    assert other.duplicates == []


def test_hard_negative_same_order_new_problem(runtime: Runtime) -> None:
    add_orders(runtime, "acme", order("302-1184736-9920417"))
    ingest(runtime, "acme", ticket("t-1", WHERE + " Order 302-1184736-9920417", tags=["tracking"]))
    [result] = ingest(
        runtime,
        "acme",
        ticket(
            "t-2",
            "Order 302-1184736-9920417 finally arrived but the glass shade is shattered, the box was "
            "crushed.",
            tags=["damaged_in_transit"],
            created_at="2026-11-08T09:00:00Z",
        ),
    )
    assert result.duplicates == []


def test_batch_ingest_sees_earlier_tickets_of_the_same_batch(runtime: Runtime) -> None:
    # Different e-mails and an order we do not know: only the shared order id ties them, and the
    # first ticket is neither committed nor indexed when the second is checked.
    results = ingest(
        runtime,
        "acme",
        ticket("t-1", WHERE + " #1042", tags=["tracking"], customer={"email": "a@example.de"}),
        ticket(
            "t-2",
            WHERE_AGAIN + " #1042",
            tags=["tracking"],
            customer={"email": "b@example.de"},
            created_at="2026-11-03T15:00:00Z",
        ),
    )
    assert results[0].ticket.customer_id != results[1].ticket.customer_id
    assert results[0].duplicates == []
    assert [d.ticket_id for d in results[1].duplicates] == ["t-1"]


def test_window_excludes_old_tickets(runtime: Runtime) -> None:
    customer = {"email": "anna@example.de"}
    ingest(
        runtime,
        "acme",
        ticket("t-1", WHERE, tags=["tracking"], customer=customer, created_at="2026-09-01T09:00:00Z"),
    )
    [result] = ingest(runtime, "acme", ticket("t-2", WHERE, tags=["tracking"], customer=customer))
    assert result.duplicates == []


def test_untagged_ticket_is_auto_tagged_from_neighbours(runtime: Runtime) -> None:
    ingest(
        runtime,
        "acme",
        ticket("t-1", WHERE, tags=["tracking"], customer={"email": "x@example.com"}),
        ticket(
            "t-2",
            "I want to cancel my order please, I ordered by mistake.",
            tags=["cancellation"],
            customer={"email": "y@example.com"},
        ),
        check=False,
    )
    [result] = ingest(
        runtime,
        "acme",
        ticket("t-3", "Where is my parcel? Tracking has not moved.", customer={"email": "z@example.com"}),
    )
    assert result.ticket.tags == ["tracking"] and result.ticket.tag_source == "auto"
    with runtime.session() as session:
        assert service.get_ticket(session, tenant_id="acme", ticket_id="t-3").tag_source == "auto"


@pytest.mark.slow
def test_french_recontact_of_english_ticket_is_flagged_with_the_real_model(tmp_path: Path) -> None:
    from core.settings import Settings

    runtime = Runtime(Settings(data_dir=tmp_path / "var", encoder="use+minilm"))
    runtime.migrate()
    try:
        add_orders(runtime, "acme", order("302-1184736-9920417"))
        ingest(
            runtime,
            "acme",
            ticket(
                "t-1",
                WHERE,
                channel="amazon",
                tags=["tracking"],
                customer={"marketplace_customer_id": "A1ANNA"},
            ),
        )
        [french] = ingest(
            runtime,
            "acme",
            ticket(
                "t-2",
                "Où est mon colis ? Le suivi ne bouge plus depuis cinq jours et la lampe n'est toujours pas "
                "arrivée. Commande 302-1184736-9920417.",
                locale="fr",
                created_at="2026-11-04T09:00:00Z",
            ),
        )
        [other] = ingest(
            runtime,
            "acme",
            ticket(
                "t-3",
                "Où est mon colis ? Le suivi ne bouge plus depuis cinq jours.",
                locale="fr",
                created_at="2026-11-04T10:00:00Z",
                customer={"email": "someone.else@example.fr"},
            ),
        )
    finally:
        runtime.close()
    assert french.ticket.tags == ["tracking"] and french.ticket.tag_source == "auto"
    assert [d.ticket_id for d in french.duplicates] == ["t-1"]
    assert other.duplicates == []


@pytest.mark.parametrize(
    ("name_a", "name_b", "same"),
    [
        ("rocio manzano prieto", "rocio manzano", True),
        ("giulia ferraro", "ferraro giulia", True),
        ("anna weber", "anna", False),
        ("maria garcia lopez", "maria garcia ruiz", False),
        ("pablo gutierrez soto", "pablo gomez", False),
    ],
)
def test_a_name_without_its_second_surname_is_the_same_name(name_a: str, name_b: str, same: bool) -> None:
    assert (name_similarity(name_a, name_b) >= 0.9) is same
