from __future__ import annotations

from fastapi.testclient import TestClient

from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.history.helpers import ingest, ticket

ANNA = {"email": "anna@example.de"}
BOB = {"email": "bob@example.com"}


def _seed(runtime: Runtime) -> None:
    ingest(
        runtime,
        "acme",
        ticket(
            "t-1", "Where is my parcel?", created_at="2026-11-01T08:00:00Z", customer=ANNA, tags=["tracking"]
        ),
        ticket(
            "t-2",
            "I need an invoice",
            channel="web",
            created_at="2026-11-02T08:00:00Z",
            customer=BOB,
            tags=["invoice"],
            status="solved",
        ),
        ticket(
            "t-3",
            "Return label please",
            channel="amazon",
            created_at="2026-11-03T08:00:00Z",
            customer=ANNA,
            tags=["return_label", "tracking"],
        ),
        # Same instant as t-3: the id breaks the tie, so pages neither skip nor repeat it.
        ticket(
            "t-4",
            "Parcel damaged",
            channel="amazon",
            created_at="2026-11-03T08:00:00Z",
            customer=BOB,
            tags=["damaged_in_transit"],
        ),
        ticket(
            "t-5", "Cancel my order", created_at="2026-11-04T08:00:00Z", customer=BOB, tags=["cancellation"]
        ),
        check=False,
    )


def _ids(client: TestClient, tenant: TenantKeys, **params: object) -> list[str]:
    response = client.get("/v1/tickets", params=params, headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


def test_newest_first_with_filters(client: TestClient, runtime: Runtime, tenant: TenantKeys) -> None:
    _seed(runtime)
    assert _ids(client, tenant) == ["t-5", "t-4", "t-3", "t-2", "t-1"]
    assert _ids(client, tenant, channel="amazon") == ["t-4", "t-3"]
    assert _ids(client, tenant, status="solved") == ["t-2"]
    assert _ids(client, tenant, tag="tracking") == ["t-3", "t-1"]
    # Tags holding '_' (escaped in the LIKE pattern) still match themselves.
    assert _ids(client, tenant, tag="return_label") == ["t-3"]
    customer = client.get("/v1/tickets/t-2", headers=tenant.headers("agent")).json()["customer_id"]
    assert _ids(client, tenant, customer=customer) == ["t-5", "t-4", "t-2"]
    assert _ids(client, tenant, customer=customer, channel="email", status="open") == ["t-5"]


def test_words_find_tickets_by_text_ticket_id_and_order_id(
    client: TestClient, runtime: Runtime, tenant: TenantKeys
) -> None:
    _seed(runtime)
    ingest(
        runtime,
        "acme",
        ticket("t-6", "50%_off code did not work", created_at="2026-11-05T08:00:00Z", customer=ANNA),
        check=False,
    )
    assert _ids(client, tenant, q="parcel") == ["t-4", "t-1"]  # any case, any position
    assert _ids(client, tenant, q="PARCEL damaged") == ["t-4"]  # every word must be there
    assert _ids(client, tenant, q="t-3") == ["t-3"]
    assert _ids(client, tenant, q="parcel", channel="amazon") == ["t-4"]  # with the filters
    # '%' and '_' are literal characters, not LIKE wildcards.
    assert _ids(client, tenant, q="50%_off") == ["t-6"]
    assert _ids(client, tenant, q="%") == ["t-6"] and _ids(client, tenant, q="_") == ["t-6"]
    assert _ids(client, tenant, q="nothing-like-this") == []
    too_many = client.get("/v1/tickets", params={"q": "a " * 9}, headers=tenant.headers("agent"))
    assert too_many.status_code == 422 and "at most 8 words" in too_many.json()["error"]["message"]
    assert client.get("/v1/tickets", params={"q": ""}, headers=tenant.headers("agent")).status_code == 422


def test_keyset_pages_cover_every_ticket_once(
    client: TestClient, runtime: Runtime, tenant: TenantKeys
) -> None:
    _seed(runtime)
    agent = tenant.headers("agent")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/tickets", params=params, headers=agent).json()
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # A ticket arriving mid-paging is newer than the cursor, so it never shifts later pages.
        if pages == 1:
            ingest(
                runtime,
                "acme",
                ticket("t-new", "Another one", created_at="2026-11-05T08:00:00Z"),
                check=False,
            )
    assert seen == ["t-5", "t-4", "t-3", "t-2", "t-1"] and pages == 3


def test_limits_roles_and_tenants(client: TestClient, runtime: Runtime, tenant: TenantKeys) -> None:
    _seed(runtime)
    agent = tenant.headers("agent")
    assert client.get("/v1/tickets", params={"limit": 201}, headers=agent).status_code == 422
    assert client.get("/v1/tickets", params={"limit": 200}, headers=agent).status_code == 200
    assert client.get("/v1/tickets", params={"channel": "fax"}, headers=agent).status_code == 422
    assert client.get("/v1/tickets", params={"tag": "nonsense"}, headers=agent).status_code == 422
    bad = client.get("/v1/tickets", params={"cursor": "not-a-cursor"}, headers=agent)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    assert client.get("/v1/tickets", headers=tenant.headers("public")).status_code == 403
    other = make_tenant(runtime, "globex")
    assert _ids(client, other) == []
    # The console's stopgap endpoint is gone; the console reads /v1/tickets.
    assert client.get("/v1/console/tickets", headers=agent).status_code == 404
