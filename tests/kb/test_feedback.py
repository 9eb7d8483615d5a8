"""Widget feedback stored as deflection events, and the per-article priors a ranker reads from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from core.clock import utcnow
from core.errors import InvalidInputError
from kb.deflection import DeflectionEventCreate, record_events
from kb.events import DeflectionEvent
from kb.feedback import article_feedback
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.history.helpers import ingest, ticket

WIDGET = {"source": "widget", "channel": "shopify", "query": "where is my parcel"}


def _record(runtime: Runtime, tenant_id: str, session_id: str, *events: dict[str, Any]) -> None:
    with runtime.session() as session:
        record_events(
            session,
            tenant_id=tenant_id,
            events=[
                DeflectionEventCreate.model_validate({**WIDGET, "session_id": session_id, **e})
                for e in events
            ],
        )


def _age(runtime: Runtime, session_id: str, hours: float, *, kinds: tuple[str, ...] | None = None) -> None:
    with runtime.session() as session:
        statement = update(DeflectionEvent).where(DeflectionEvent.session_id == session_id)
        if kinds:
            statement = statement.where(DeflectionEvent.kind.in_(kinds))
        session.execute(statement.values(created_at=utcnow() - timedelta(hours=hours)))


def _feedback(runtime: Runtime, tenant_id: str = "acme", **kwargs: Any) -> Any:
    with runtime.session() as session:
        return article_feedback(session, tenant_id=tenant_id, **kwargs)


def test_impression_stores_every_shown_article_over_http(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    shown = {**WIDGET, "session_id": "sess-http-1", "kind": "impression", "article_ids": ["kb-a", "kb-b"]}
    response = client.post(
        "/v1/deflection/events", json={"events": [shown]}, headers=tenant.headers("public")
    )
    assert response.status_code == 202, response.text
    with runtime.session() as session:
        row = session.scalars(
            select(DeflectionEvent).where(DeflectionEvent.session_id == "sess-http-1")
        ).one()
    assert row.article_ids == ["kb-a", "kb-b"] and row.article_id == "kb-a"
    for bad in (
        {**shown, "kind": "click"},  # a list belongs to impressions only
        {**shown, "article_id": "kb-z"},  # the top article must be one of those shown
        {**shown, "article_ids": ["kb-a", "kb-a"]},
        {**shown, "article_ids": [f"kb-{i}" for i in range(21)]},
    ):
        rejected = client.post(
            "/v1/deflection/events", json={"events": [bad]}, headers=tenant.headers("public")
        )
        assert rejected.status_code == 422, bad
        assert "error" in rejected.json()


def test_counts_are_per_session_and_clicks_are_judged_against_their_position(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    # Four sessions see [kb-a, kb-b]; search-as-you-type repeats the impression in each.
    for n in range(4):
        session_id = f"sess-list-{n}"
        shown = {"kind": "impression", "article_ids": ["kb-a", "kb-b"]}
        _record(runtime, "acme", session_id, shown, shown, shown)
    # Two click the top article, two the second one: the same clicks from a lower position.
    for n, article in ((0, "kb-a"), (1, "kb-a"), (2, "kb-b"), (3, "kb-b")):
        _record(runtime, "acme", f"sess-list-{n}", {"kind": "click", "article_id": article})
    _record(runtime, "acme", "sess-list-0", {"kind": "helpful", "article_id": "kb-a"})
    _record(
        runtime,
        "acme",
        "sess-list-2",
        {"kind": "not_helpful", "article_id": "kb-b"},
        {"kind": "helpful", "article_id": "kb-b"},  # the last vote of a session counts
    )
    # Two more sessions see kb-c on top and click it: top places draw more clicks whatever they hold.
    for n in range(2):
        _record(
            runtime,
            "acme",
            f"sess-other-{n}",
            {"kind": "impression", "article_ids": ["kb-c", "kb-b"]},
            {"kind": "click", "article_id": "kb-c"},
        )
    priors = _feedback(runtime, prior_strength=1.0)
    a, b, c = priors.articles["kb-a"], priors.articles["kb-b"], priors.articles["kb-c"]
    assert (a.impressions, a.clicks, a.helpful, a.not_helpful) == (4, 2, 1, 0)
    assert (b.impressions, b.clicks, b.helpful, b.not_helpful) == (6, 2, 1, 0)
    # Position 0: 4 clicks in 6 sessions, position 1: 2 in 6, each smoothed towards 6/12.
    assert priors.click_rate_by_position == [
        pytest.approx(4.5 / 7, abs=1e-4),
        pytest.approx(2.5 / 7, abs=1e-4),
    ]
    assert a.expected_clicks == pytest.approx(4 * 4.5 / 7, abs=1e-3)
    # The same two clicks are worth more from below than from the top.
    assert b.expected_clicks < a.expected_clicks and b.click_prior > a.click_prior
    assert c.click_prior > 1.0 > a.click_prior
    assert priors.helpful_rate == 1.0


def test_contact_anyway_counts_only_within_the_window(runtime: Runtime, tenant: TenantKeys) -> None:
    shown = {"kind": "impression", "article_ids": ["kb-refund"]}
    click = {"kind": "click", "article_id": "kb-refund"}
    _record(runtime, "acme", "sess-contact-in", shown, click, {"kind": "contact_anyway"})
    _age(runtime, "sess-contact-in", 100)
    _record(runtime, "acme", "sess-contact-late", shown, click)
    _age(runtime, "sess-contact-late", 100)
    _record(runtime, "acme", "sess-contact-late", {"kind": "contact_anyway"}, {"kind": "submitted"})
    _record(runtime, "acme", "sess-deflected", shown)
    _age(runtime, "sess-deflected", 100)
    _record(runtime, "acme", "sess-pending", shown)  # window still open, no contact yet
    article = _feedback(runtime, window_hours=72).articles["kb-refund"]
    assert article.impressions == 4 and article.clicks == 2
    assert article.contact_after_impression == 1 and article.contact_after_click == 1
    assert article.impressions_settled == 3
    # With a week's window the late contact counts too.
    assert _feedback(runtime, window_hours=168).articles["kb-refund"].contact_after_impression == 2


def test_a_ticket_from_the_same_customer_on_another_channel_is_a_contact(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    _record(
        runtime,
        "acme",
        "sess-email",
        {"kind": "impression", "article_ids": ["kb-tracking"], "customer_email": "Anna@Example.de"},
    )
    _age(runtime, "sess-email", 10)
    ingest(
        runtime,
        "acme",
        ticket(
            "t-mail-1",
            "Where is my parcel?",
            customer={"email": "anna@example.de"},
            created_at=(utcnow() - timedelta(hours=5)).isoformat(),
        ),
    )
    assert _feedback(runtime).articles["kb-tracking"].contact_after_impression == 1


def test_rates_are_smoothed_towards_the_tenant_and_unseen_articles_get_its_priors(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    for n in range(3):
        _record(
            runtime,
            "acme",
            f"sess-vote-{n}",
            {"kind": "impression", "article_ids": ["kb-good"]},
            {"kind": "click", "article_id": "kb-good"},
            {"kind": "helpful", "article_id": "kb-good"},
        )
    _record(
        runtime,
        "acme",
        "sess-vote-bad",
        {"kind": "not_helpful", "article_id": "kb-bad", "source": "help_centre"},
    )
    # Another tenant's events never count.
    _record(runtime, "globex", "sess-globex", {"kind": "not_helpful", "article_id": "kb-good"})
    priors = _feedback(runtime, prior_strength=4.0)
    good, bad = priors.articles["kb-good"], priors.articles["kb-bad"]
    assert priors.helpful_rate == 0.75 and good.not_helpful == 0
    # Three yes votes move the rate towards 1 but not all the way; one no vote moves it less far.
    assert priors.helpful_rate < good.helpful_rate < 1.0
    assert 0.5 < bad.helpful_rate < priors.helpful_rate
    assert bad.impressions == 0 and bad.click_prior == 1.0  # a help-centre vote is no ranked impression
    unseen = priors.for_article("kb-never-shown")
    assert unseen.impressions == 0 and unseen.helpful_rate == priors.helpful_rate
    assert unseen.click_prior == 1.0 and unseen.contact_rate == priors.contact_rate


def test_an_older_widget_click_on_an_unlisted_article_is_an_impression_at_an_unknown_place(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    _record(
        runtime,
        "acme",
        "sess-legacy",
        {"kind": "impression", "article_id": "kb-top"},
        {"kind": "click", "article_id": "kb-third"},
    )
    priors = _feedback(runtime, prior_strength=1.0)
    assert priors.articles["kb-top"].impressions == 1 and priors.articles["kb-third"].impressions == 1
    assert priors.click_rate_by_position == [pytest.approx((0 + 0.5) / 2)]
    assert priors.articles["kb-third"].expected_clicks == priors.click_rate


def test_period_is_checked(runtime: Runtime, tenant: TenantKeys) -> None:
    now = utcnow()
    with pytest.raises(InvalidInputError):
        _feedback(runtime, since=now, until=now - timedelta(days=1))
    with pytest.raises(InvalidInputError):
        _feedback(runtime, since=now - timedelta(days=400), until=now)
    with pytest.raises(ValidationError):
        DeflectionEventCreate.model_validate(
            {"session_id": "sess-x-0001", "kind": "helpful", "article_ids": []}
        )
