from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import ConflictError
from history.models import MergeAudit, MergeGroup, Ticket
from replies import merge
from replies.macros import MacroRenderError, save_version
from replies.merge import COURTESY_MACRO_KEY
from runtime import Runtime
from tests.history.helpers import ingest, ticket

CUSTOMER = {"email": "anna@example.de"}


def _snapshot(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.session() as session:
        rows = session.scalars(select(Ticket).order_by(Ticket.id))
        return {t.external_id: {c.key: getattr(t, c.key) for c in Ticket.__table__.columns} for t in rows}


def _setup(runtime: Runtime) -> None:
    ingest(
        runtime,
        "acme",
        ticket(
            "t-mail",
            "Where is my lamp? order 302-1184736-9920417",
            created_at="2026-11-01T08:00:00Z",
            customer=CUSTOMER,
            locale="de",
        ),
        ticket(
            "t-amz-old",
            "Lamp not here",
            channel="amazon",
            created_at="2026-11-02T08:00:00Z",
            customer=CUSTOMER,
            thread_id="thr-1",
            order_id="302-1184736-9920417",
        ),
        ticket(
            "t-amz-new",
            "Still no lamp",
            channel="amazon",
            created_at="2026-11-03T08:00:00Z",
            customer=CUSTOMER,
            thread_id="thr-2",
            locale="fr",
        ),
        ticket(
            "t-closed",
            "Old question",
            channel="amazon",
            created_at="2026-10-30T08:00:00Z",
            customer=CUSTOMER,
            status="closed",
        ),
        check=False,
    )


def test_amazon_oldest_open_thread_is_primary_with_localised_notes(runtime: Runtime) -> None:
    _setup(runtime)
    with runtime.session() as session:
        group = merge.merge_tickets(
            session,
            tenant_id="acme",
            ticket_ids=["t-mail", "t-amz-new", "t-amz-old", "t-closed"],
            actor="agent-1",
            reason="same parcel",
        )
        read = merge.to_read(session, group)
    assert read.primary_ticket_id == "t-amz-old"
    notes = {n.ticket_id: n for n in read.notes}
    assert set(notes) == {"t-mail", "t-amz-new", "t-closed"}
    assert "Bestellung 302-1184736-9920417" in notes["t-mail"].text
    assert "commande 302-1184736-9920417" in notes["t-amz-new"].text
    with runtime.session() as session:
        statuses = dict(session.execute(select(Ticket.external_id, Ticket.status)).all())
    assert statuses == {"t-amz-old": "open", "t-mail": "merged", "t-amz-new": "merged", "t-closed": "merged"}


def test_without_amazon_the_oldest_ticket_is_primary(runtime: Runtime) -> None:
    ingest(
        runtime,
        "acme",
        ticket("t-a", "A", created_at="2026-11-02T08:00:00Z", customer=CUSTOMER),
        ticket("t-b", "B", channel="web", created_at="2026-11-01T08:00:00Z", customer=CUSTOMER),
        check=False,
    )
    with runtime.session() as session:
        read = merge.to_read(
            session,
            merge.merge_tickets(session, tenant_id="acme", ticket_ids=["t-a", "t-b"], actor="a", reason=""),
        )
    assert read.primary_ticket_id == "t-b"
    assert read.notes[0].text.startswith("Thank you for your message.")


def test_merge_then_undo_restores_every_row_and_is_audited(runtime: Runtime) -> None:
    _setup(runtime)
    before = _snapshot(runtime)
    with runtime.session() as session:
        first = merge.merge_tickets(
            session,
            tenant_id="acme",
            ticket_ids=["t-mail", "t-amz-old"],
            actor="agent-1",
            reason="same parcel",
        ).id
    middle = _snapshot(runtime)
    with runtime.session() as session:
        # Merging into an existing group supersedes it; undoing restores the first merge exactly.
        second = merge.merge_tickets(
            session,
            tenant_id="acme",
            ticket_ids=["t-amz-new", "t-mail"],
            actor="agent-2",
            reason="third contact",
        ).id
    with runtime.session() as session:
        with pytest.raises(ConflictError):
            merge.undo_merge(session, tenant_id="acme", group_id=first, actor="agent-1", reason="")
    with runtime.session() as session:
        merge.undo_merge(session, tenant_id="acme", group_id=second, actor="agent-2", reason="wrong")
    assert _snapshot(runtime) == middle
    with runtime.session() as session:
        merge.undo_merge(session, tenant_id="acme", group_id=first, actor="agent-1", reason="wrong")
    assert _snapshot(runtime) == before
    with runtime.session() as session:
        audits = [
            (a.group_id, a.action, a.actor)
            for a in session.scalars(select(MergeAudit).order_by(MergeAudit.id))
        ]
    assert audits == [
        (first, "merge", "agent-1"),
        (second, "merge", "agent-2"),
        (second, "undo", "agent-2"),
        (first, "undo", "agent-1"),
    ]


def test_courtesy_note_comes_from_the_current_macro_version(runtime: Runtime) -> None:
    _setup(runtime)
    with runtime.session() as session:
        save_version(
            session,
            tenant_id="acme",
            key=COURTESY_MACRO_KEY,
            channel="*",
            locale="fr",
            body="Votre message sur {{ order_id }} rejoint la conversation d'origine.",
            created_by="admin",
        )
    with runtime.session() as session:
        read = merge.to_read(
            session,
            merge.merge_tickets(
                session,
                tenant_id="acme",
                ticket_ids=["t-amz-old", "t-amz-new", "t-mail"],
                actor="agent-1",
                reason="",
            ),
        )
    notes = {n.ticket_id: n for n in read.notes}
    expected = "Votre message sur 302-1184736-9920417 rejoint la conversation d'origine."
    assert notes["t-amz-new"].text == expected
    assert (notes["t-amz-new"].macro_key, notes["t-amz-new"].macro_version) == (COURTESY_MACRO_KEY, 2)
    assert (notes["t-mail"].macro_locale, notes["t-mail"].macro_version) == ("de", 1)


def test_unrenderable_courtesy_macro_fails_the_merge_and_writes_nothing(runtime: Runtime) -> None:
    _setup(runtime)
    with runtime.session() as session:
        # Passes the trial render (sample values) but needs a tracking number no merge provides.
        save_version(
            session,
            tenant_id="acme",
            key=COURTESY_MACRO_KEY,
            channel="*",
            locale="en",
            body="Your parcel {{ tracking_number }} is covered in your other conversation.",
            created_by="admin",
        )
    before = _snapshot(runtime)
    with pytest.raises(MacroRenderError) as error:
        with runtime.session() as session:
            merge.merge_tickets(
                session, tenant_id="acme", ticket_ids=["t-amz-old", "t-closed"], actor="agent-1", reason=""
            )
    assert error.value.missing == "tracking_number"
    assert _snapshot(runtime) == before
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(MergeGroup)) == 0
