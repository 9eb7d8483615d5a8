"""Before/after impact of an article change: equal windows, hand-counted contacts, deflection and repeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from kb.events import DeflectionEvent
from runtime import Runtime
from tests.factories import article, load_articles
from tests.insights.helpers import load, ticket

CHANGE = "2026-11-10T00:00:00Z"


def _event(tenant_id: str, session_id: str, kind: str, at: str) -> DeflectionEvent:
    return DeflectionEvent(
        tenant_id=tenant_id,
        session_id=session_id,
        kind=kind,
        source="widget",
        topic="return_label",
        query="how do I return this",
        created_at=datetime.fromisoformat(at.replace("Z", "+00:00")),
    )


def test_equal_windows_before_and_after_an_article_change(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    tid = tenant.tenant_id
    load_articles(
        runtime,
        tid,
        [article(id="kb-returns", title="Returns", body="Print the label.", tags=["return_label"])],
    )
    load(
        runtime,
        tid,
        tickets=[
            # before [11-05, 11-10): 4 return tickets, Ann's second is a repeat (1 of 4)
            ticket("b1", "ann@example.com", ["return_label"], "2026-11-05T09:00:00Z"),
            ticket("b2", "ann@example.com", ["return_label"], "2026-11-07T09:00:00Z"),
            ticket("b3", "bob@example.com", ["return_label"], "2026-11-08T09:00:00Z"),
            ticket("b4", "cat@example.com", ["return_label"], "2026-11-09T23:59:00Z"),
            ticket(
                "bx", "dan@example.com", ["tracking"], "2026-11-06T09:00:00Z"
            ),  # other reason: not counted
            # after [11-10, 11-15): 1 return ticket, no repeat
            ticket("a1", "eve@example.com", ["return_label"], "2026-11-12T09:00:00Z"),
            ticket(
                "late", "fay@example.com", ["return_label"], "2026-11-15T00:00:00Z"
            ),  # outside both windows
        ],
    )
    with runtime.session() as session:
        session.add_all(
            [
                _event(tid, "before-session-1", "impression", "2026-11-06T10:00:00Z"),
                _event(tid, "before-session-1", "submitted", "2026-11-06T10:05:00Z"),  # contacted
                _event(tid, "before-session-2", "impression", "2026-11-07T10:00:00Z"),  # deflected
                _event(tid, "after-session-1", "impression", "2026-11-11T10:00:00Z"),
                _event(tid, "after-session-2", "impression", "2026-11-12T10:00:00Z"),
            ]
        )
    response = client.get(
        "/v1/reports/impact",
        params={"article_id": "kb-returns", "date": CHANGE, "days": 5},
        headers=tenant.headers("agent"),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["reason"], report["days"], report["complete"]) == ("return_label", 5.0, True)
    before, after = report["before"], report["after"]
    assert (before["since"], before["until"], after["until"]) == (
        "2026-11-05T00:00:00Z",
        CHANGE,
        "2026-11-15T00:00:00Z",
    )
    assert (before["contacts"], after["contacts"]) == (4, 1)
    assert (before["contacts_per_day"], after["contacts_per_day"]) == (0.8, 0.2)
    assert (before["deflection_sessions"], before["deflected"], before["deflection_rate"]) == (2, 1, 0.5)
    assert (after["deflection_sessions"], after["deflected"], after["deflection_rate"]) == (2, 2, 1.0)
    assert (before["repeat_base"], before["repeats"], before["repeat_rate"]) == (4, 1, 0.25)
    assert (after["repeat_base"], after["repeats"], after["repeat_rate"]) == (1, 0, 0.0)
    assert report["delta"] == {
        "contacts": -3,
        "contacts_per_day": -0.6,
        "deflection_rate": 0.5,
        "repeat_rate": -0.25,
    }


def test_impact_needs_one_known_subject(client: TestClient, tenant: Any) -> None:
    agent = tenant.headers("agent")
    assert client.get("/v1/reports/impact", headers=agent).status_code == 422
    assert client.get("/v1/reports/impact", params={"article_id": "nope"}, headers=agent).status_code == 404
    both = client.get(
        "/v1/reports/impact", params={"article_id": "a", "macro_key": "tracking"}, headers=agent
    )
    assert both.status_code == 422
