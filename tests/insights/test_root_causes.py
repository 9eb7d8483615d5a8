"""Root-cause table: hand-computed volume, share, repeat and FCR rates, handling time, SKUs, notes, CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from runtime import Runtime
from tests.insights.helpers import load, order, ticket

UNTIL = "2026-11-20T00:00:00Z"


def _shop(runtime: Runtime, tenant_id: str) -> None:
    load(
        runtime,
        tenant_id,
        orders=[
            order("111-0000001-0000001", "ann@example.com", "LMP-1", "Nimbus lamp"),
            order("111-0000002-0000002", "bob@example.com", "KTL-1", "Cove kettle"),
        ],
        tickets=[
            ticket(
                "t1",
                "ann@example.com",
                ["tracking"],
                "2026-11-01T10:00:00Z",
                order_id="111-0000001-0000001",
                handling=300,
            ),
            # Ann again 3 days later on the same reason: a repeat, and t1 was not resolved first time.
            ticket(
                "t2",
                "ann@example.com",
                ["tracking"],
                "2026-11-04T10:00:00Z",
                order_id="111-0000001-0000001",
                handling=500,
            ),
            ticket(
                "t3", "bob@example.com", ["tracking"], "2026-11-10T10:00:00Z", channel="email", status="open"
            ),
            ticket(
                "t4",
                "bob@example.com",
                ["refund_status"],
                "2026-11-12T10:00:00Z",
                channel="email",
                status="solved",
                order_id="111-0000002-0000002",
                handling=200,
            ),
            ticket("t5", "cat@example.com", ["tracking"], "2026-10-01T10:00:00Z"),  # in 60d, not in 30d
        ],
    )


def _row(rows: list[dict[str, Any]], reason: str, channel: str) -> dict[str, Any]:
    return next(r for r in rows if r["reason"] == reason and r["channel"] == channel)


def test_root_cause_rates_per_reason_and_channel(client: TestClient, runtime: Runtime, tenant: Any) -> None:
    _shop(runtime, tenant.tenant_id)
    response = client.get(
        "/v1/reports/root-causes", params={"until": UNTIL, "within_days": 7}, headers=tenant.headers("agent")
    )
    assert response.status_code == 200, response.text
    periods = response.json()["periods"]
    d30 = periods["30d"]
    assert [(r["reason"], r["channel"], r["volume"]) for r in d30] == [
        ("tracking", "all", 3),
        ("tracking", "amazon", 2),
        ("refund_status", "all", 1),
        ("refund_status", "email", 1),
        ("tracking", "email", 1),
    ]
    everything = _row(d30, "tracking", "all")
    assert (
        everything["share"] == 0.75
        and everything["repeat_contacts"] == 1
        and everything["repeat_rate"] == 0.3333
    )
    assert everything["first_contact_resolved"] == 1 and everything["fcr_rate"] == 0.3333  # only t2
    assert everything["handling_known"] == 2 and everything["avg_handling_seconds"] == 400.0
    assert everything["top_skus"] == [{"sku": "LMP-1", "title": "Nimbus lamp", "tickets": 2}]
    amazon = _row(d30, "tracking", "amazon")
    assert (amazon["share"], amazon["repeat_rate"], amazon["fcr_rate"]) == (1.0, 0.5, 0.5)
    email = _row(d30, "tracking", "email")
    assert (email["share"], email["fcr_rate"], email["avg_handling_seconds"]) == (0.5, 0.0, None)
    refund = _row(d30, "refund_status", "email")
    assert (refund["share"], refund["fcr_rate"], refund["top_skus"][0]["sku"]) == (0.5, 1.0, "KTL-1")
    amazon60 = _row(periods["60d"], "tracking", "amazon")
    assert (amazon60["volume"], amazon60["first_contact_resolved"], amazon60["fcr_rate"]) == (3, 2, 0.6667)


def test_notes_keep_their_history_and_reach_the_csv(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    _shop(runtime, tenant.tenant_id)
    agent = tenant.headers("agent")
    url = "/v1/reports/root-causes/tracking/amazon"
    assert client.put(url, json={"root_cause": "x"}, headers=tenant.headers("public")).status_code == 403
    assert (
        client.put(
            "/v1/reports/root-causes/tracking/fax", json={"root_cause": "x"}, headers=agent
        ).status_code
        == 422
    )
    first = client.put(
        url, json={"root_cause": "Carrier scans late at the Lyon hub", "action_owner": "Ops"}, headers=agent
    )
    assert first.status_code == 200 and first.json()["set_by"].startswith("agent-key:")
    second = client.put(
        url,
        json={"root_cause": "=Late handover to DHL", "action_owner": "Warehouse lead"},
        headers=tenant.headers("admin"),
    ).json()
    history = client.get(url + "/history", headers=agent).json()
    assert [h["root_cause"] for h in history] == [
        "=Late handover to DHL",
        "Carrier scans late at the Lyon hub",
    ]
    assert history[0]["set_by"].startswith("admin-key:") and history[0]["set_at"] == second["set_at"]
    report = client.get("/v1/reports/root-causes", params={"until": UNTIL}, headers=agent).json()
    assert _row(report["periods"]["30d"], "tracking", "amazon")["note"]["action_owner"] == "Warehouse lead"
    assert _row(report["periods"]["30d"], "tracking", "email")["note"] is None
    exported = client.get(
        "/v1/reports/root-causes",
        params={"until": UNTIL, "format": "csv", "channel": "amazon"},
        headers=agent,
    )
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["period"], r["reason"], r["volume"]) for r in rows] == [
        ("30d", "tracking", "2"),
        ("60d", "tracking", "3"),
        ("90d", "tracking", "3"),
    ]
    assert rows[0]["root_cause"] == "'=Late handover to DHL" and rows[0]["top_skus"] == "LMP-1 (2)"
