"""Deflection events and the report over HTTP (no browser): definition, window, breakdowns, CSV."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from core.clock import utcnow
from kb.events import DeflectionEvent
from runtime import Runtime
from tests.conftest import TenantKeys


def _post(client: TestClient, tenant: TenantKeys, *events: dict[str, object]) -> None:
    response = client.post(
        "/v1/deflection/events", json={"events": list(events)}, headers=tenant.headers("public")
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": len(events)}


def _age_session(runtime: Runtime, session_id: str, hours: float) -> None:
    with runtime.session() as session:
        session.execute(
            update(DeflectionEvent)
            .where(DeflectionEvent.session_id == session_id)
            .values(created_at=utcnow() - timedelta(hours=hours))
        )


def test_rate_counts_closed_windows_and_contacts(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    base = {"source": "widget", "channel": "amazon", "topic": "tracking", "query": "where is my parcel"}
    _post(
        client,
        tenant,
        {**base, "session_id": "s-deflected-1", "kind": "impression"},
        {**base, "session_id": "s-deflected-1", "kind": "click", "article_id": "kb-tracking"},
        {**base, "session_id": "s-deflected-1", "kind": "helpful", "article_id": "kb-tracking"},
    )
    form = {
        **base,
        "session_id": "s-contacted-1",
        "channel": "shopify",
        "topic": "refund_status",
        "source": "contact_form",
    }
    _post(
        client,
        tenant,
        {**form, "kind": "impression"},
        {**form, "kind": "contact_anyway"},
        {**form, "kind": "submitted", "ticket_id": "t-1"},
    )
    _post(client, tenant, {**base, "session_id": "s-pending-1", "kind": "impression"})
    # Only sessions older than the 72 h window count towards the rate.
    _age_session(runtime, "s-deflected-1", 100)
    _age_session(runtime, "s-contacted-1", 100)

    report = client.get("/v1/reports/deflection", headers=tenant.headers("agent")).json()
    total = report["total"]
    assert (total["sessions"], total["closed"], total["deflected"], total["contacted"], total["pending"]) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert total["deflection_rate"] == 0.5
    assert (total["impressions"], total["clicks"], total["helpful"], total["submitted"]) == (3, 1, 1, 1)
    assert "72 h" in report["definition"]
    topics = {row["key"]: row for row in report["by_topic"]}
    assert topics["tracking"]["deflected"] == 1 and topics["refund_status"]["contacted"] == 1
    channels = {row["key"]: row for row in report["by_channel"]}
    assert channels["amazon"]["sessions"] == 2 and channels["shopify"]["sessions"] == 1
    assert sum(row["sessions"] for row in report["over_time"]) == 3

    csv_text = client.get("/v1/reports/deflection?format=csv", headers=tenant.headers("agent")).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("dimension,key,sessions")
    assert "total,all,3,2,1,1,1,0.5" in lines[1]


def test_same_customer_contact_in_another_session_counts(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    _post(
        client,
        tenant,
        {
            "session_id": "s-form-aaaa",
            "kind": "impression",
            "source": "contact_form",
            "customer_email": "Ann@Example.com",
        },
    )
    _post(
        client,
        tenant,
        {
            "session_id": "s-form-bbbb",
            "kind": "submitted",
            "source": "contact_form",
            "customer_email": "ann@example.com",
        },
    )
    _age_session(runtime, "s-form-aaaa", 80)
    _age_session(runtime, "s-form-bbbb", 79)
    total = client.get("/v1/reports/deflection", headers=tenant.headers("agent")).json()["total"]
    assert total["sessions"] == 1 and total["contacted"] == 1 and total["deflection_rate"] == 0.0


def test_events_need_a_key_and_valid_kinds(client: TestClient, tenant: TenantKeys) -> None:
    assert client.post("/v1/deflection/events", json={"events": []}).status_code == 401
    bad = client.post(
        "/v1/deflection/events",
        json={"events": [{"session_id": "s-12345678", "kind": "hack"}]},
        headers=tenant.headers("public"),
    )
    assert bad.status_code == 422 and "error" in bad.json()
    assert client.get("/v1/reports/deflection", headers=tenant.headers("public")).status_code == 403
