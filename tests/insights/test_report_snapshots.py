"""Content gaps precomputed by `deflect worker` and served to the reports page while fresh."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from core.clock import utcnow
from core.models import ReportSnapshot
from core.settings import Settings
from runtime import Runtime
from runtime.jobs import Worker
from tests.factories import article, load_articles
from tests.insights.helpers import load, ticket

GIFT = [
    "Can you gift wrap my present please?",
    "Do you offer gift wrapping for a present?",
    "Is gift wrapping available, it is a present?",
    "Could my present be gift wrapped?",
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", default_abstain_threshold=0.3)


def _days_ago(days: int) -> str:
    return (utcnow() - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gift_tickets(runtime: Runtime, tenant_id: str, bodies: list[str], first: int) -> None:
    load(
        runtime,
        tenant_id,
        tickets=[
            ticket(f"g{first + i}", f"c{first + i}@example.com", ["other"], _days_ago(3 + i), body=body)
            for i, body in enumerate(bodies)
        ],
    )


def _shop_with_a_snapshot(runtime: Runtime, tenant_id: str) -> None:
    load_articles(runtime, tenant_id, [article()])
    _gift_tickets(runtime, tenant_id, GIFT[:3], first=1)
    worker = Worker(runtime, name="w1")
    worker.schedule()
    while worker.run_once():
        pass


def _gaps(client: TestClient, tenant: Any, **params: Any) -> tuple[dict[str, Any], str | None]:
    response = client.get("/v1/reports/content-gaps", params=params, headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    return response.json(), response.headers.get("X-Report-Computed-At")


def test_the_worker_precomputes_the_default_view_and_the_page_serves_it_while_fresh(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    _shop_with_a_snapshot(runtime, tenant.tenant_id)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportSnapshot)) == 1

    # A ticket arrives after the snapshot: the default view is the snapshot, a live one sees it.
    _gift_tickets(runtime, tenant.tenant_id, GIFT[3:], first=10)
    served, computed_at = _gaps(client, tenant)
    assert computed_at is not None
    assert abs(datetime.fromisoformat(served["until"]) - datetime.fromisoformat(computed_at)) < timedelta(
        seconds=5
    )
    live, live_stamp = _gaps(client, tenant, live=True)
    assert live_stamp is None
    assert live["candidates"] == served["candidates"] + 1
    # Any other window is computed live.
    assert _gaps(client, tenant, days=7)[1] is None

    # Past its age the snapshot is not served.
    with runtime.session() as session:
        session.execute(update(ReportSnapshot).values(computed_at=utcnow() - timedelta(hours=2)))
    stale, stale_stamp = _gaps(client, tenant)
    assert stale_stamp is None and stale["candidates"] == live["candidates"]


def test_erasing_a_customer_drops_the_snapshots_that_quote_customers(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    _shop_with_a_snapshot(runtime, tenant.tenant_id)
    served, _ = _gaps(client, tenant)
    assert any("gift" in example["text"] for c in served["clusters"] for example in c["examples"])
    found = client.get("/v1/tickets/g1", headers=tenant.headers("agent"))
    assert found.status_code == 200, found.text
    customer_id = found.json()["customer_id"]
    erased = client.delete(f"/v1/customers/{customer_id}", headers=tenant.headers("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["report_snapshots"] == 1
    assert _gaps(client, tenant)[1] is None
