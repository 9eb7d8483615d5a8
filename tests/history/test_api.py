from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import TenantKeys

WHERE = "Where is my parcel? The tracking has not moved for five days and the lamp has still not arrived."


def _ticket(ticket_id: str, **extra: object) -> dict[str, object]:
    return {
        "id": ticket_id,
        "channel": "email",
        "body": WHERE,
        "created_at": "2026-11-03T09:00:00Z",
        "customer": {"email": "anna@example.de"},
        "tags": ["tracking"],
        **extra,
    }


def test_ticket_ingest_duplicates_merge_undo_and_history(client: TestClient, tenant: TenantKeys) -> None:
    agent = tenant.headers("agent")
    orders = [
        {
            "order_id": "302-1184736-9920417",
            "channel": "amazon",
            "customer": {"marketplace_customer_id": "A1ANNA", "email": "relay@marketplace.amazon.de"},
            "placed_at": "2026-11-01T10:00:00Z",
            "status": "shipped",
            "shipment": {
                "carrier": "DHL",
                "tracking_number": "JD1",
                "status": "in_transit",
                "eta": "2026-11-04",
            },
            "refund": {"refund_id": "R-1", "status": "issued", "amount": 10.0},
        }
    ]
    assert client.post("/v1/orders/import", json=orders, headers=agent).status_code == 403
    imported = client.post("/v1/orders/import", json=orders, headers=tenant.headers("admin"))
    assert imported.status_code == 200 and imported.json()["created"] == 1

    single = client.post(
        "/v1/tickets",
        json=_ticket(
            "t-1", channel="amazon", thread_id="thr-1", customer={"marketplace_customer_id": "A1ANNA"}
        ),
        headers=agent,
    )
    assert single.status_code == 201, single.text
    batch = client.post(
        "/v1/tickets",
        json={
            "tickets": [
                _ticket("t-2", created_at="2026-11-04T09:00:00Z", body=WHERE + " Order 302-1184736-9920417")
            ]
        },
        headers=agent,
    )
    assert batch.status_code == 201
    [result] = batch.json()["results"]
    assert result["link"] == "order"
    assert [d["ticket_id"] for d in result["duplicates"]] == ["t-1"]

    on_demand = client.get("/v1/tickets/t-1/duplicates", headers=agent).json()
    assert [c["ticket_id"] for c in on_demand["candidates"]] == ["t-2"] and on_demand["window_days"] == 14

    merged = client.post(
        "/v1/tickets/merge", json={"ticket_ids": ["t-2", "t-1"], "reason": "same parcel"}, headers=agent
    )
    assert merged.status_code == 201
    body = merged.json()
    assert body["primary_ticket_id"] == "t-1" and body["notes"][0]["ticket_id"] == "t-2"
    assert client.get("/v1/tickets/t-2", headers=agent).json()["status"] == "merged"

    customer_id = result["ticket"]["customer_id"]
    history = client.get(f"/v1/customers/{customer_id}/history", headers=agent).json()
    assert [e["kind"] for e in history["events"]] == [
        "order",
        "shipment",
        "message",
        "message",
        "refund",
        "merge",
    ]
    assert {i["kind"] for i in history["identities"]} == {"marketplace_id", "email"}

    undone = client.post(f"/v1/tickets/merge/{body['id']}/undo", json={"reason": "oops"}, headers=agent)
    assert undone.status_code == 200 and undone.json()["status"] == "undone"
    assert client.get("/v1/tickets/t-2", headers=agent).json()["status"] == "open"
    again = client.post(f"/v1/tickets/merge/{body['id']}/undo", headers=agent)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_bad_ticket_and_unknown_ids_are_4xx_json(client: TestClient, tenant: TenantKeys) -> None:
    agent = tenant.headers("agent")
    bad = client.post("/v1/tickets", json=_ticket("t-1", channel="fax"), headers=agent)
    assert bad.status_code == 422
    assert client.get("/v1/tickets/nope/duplicates", headers=agent).status_code == 404
    assert (
        client.post("/v1/tickets/merge", json={"ticket_ids": ["t-x", "t-y"]}, headers=agent).status_code
        == 404
    )
    assert client.get("/v1/customers/999/history", headers=agent).json()["error"]["code"] == "not_found"
    assert (
        client.post("/v1/tickets", json=_ticket("t-1"), headers=tenant.headers("public")).status_code == 403
    )


def test_reports(client: TestClient, tenant: TenantKeys) -> None:
    agent = tenant.headers("agent")
    tickets = [
        _ticket("t-1", created_at="2026-11-01T09:00:00Z"),
        _ticket("t-2", created_at="2026-11-03T09:00:00Z"),
        _ticket("t-3", channel="web", created_at="2026-11-20T09:00:00Z"),
        _ticket(
            "t-4",
            created_at="2026-11-03T09:00:00Z",
            tags=["invoice"],
            customer={"email": "other@example.com"},
        ),
    ]
    assert client.post("/v1/tickets", json={"tickets": tickets}, headers=agent).status_code == 201
    report = client.get(
        "/v1/reports/repeat-contacts", params={"until": "2026-11-25T00:00:00Z"}, headers=agent
    ).json()
    tracking = next(r for r in report["by_reason"] if r["key"] == "tracking")
    # t-2 is 2 days after t-1 (repeat); t-3 is 17 days after t-2 (not within 7 days)
    assert (tracking["tickets"], tracking["repeats"]) == (3, 1)
    assert report["overall"]["tickets"] == 4 and report["overall"]["repeats"] == 1
    top = client.get(
        "/v1/reports/top-reasons", params={"until": "2026-11-25T00:00:00Z"}, headers=agent
    ).json()
    assert top["periods"]["30d"]["email"][0] == {"reason": "tracking", "count": 2, "auto_tagged": 0}
    assert [r["reason"] for r in top["periods"]["90d"]["web"]] == ["tracking"]
