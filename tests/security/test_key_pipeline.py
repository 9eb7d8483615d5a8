"""One key reader for the limiter, CORS and authentication: no query-string keys, no parser disagreements,
and proxy headers believed only from configured proxies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from api.app import create_app
from api.security import AmbiguousKeyError, client_ip, parse_networks, raw_key_from
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders

QUERY_TRICKS = [
    "?key={k}",
    "?key=junk&key={k}",
    "?%6Bey={k}",
    "?KEY={k}",
    "?api_key={k}",
    "?key={k}&key=junk",
]


@pytest.mark.parametrize("trick", QUERY_TRICKS)
def test_a_key_in_the_query_string_never_authenticates(
    client: TestClient, tenant: TenantKeys, trick: str
) -> None:
    response = client.get("/v1/articles" + trick.format(k=tenant.admin))
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("missing API key")


def test_query_tricks_do_not_skip_the_limit_once_it_is_reached(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "var", rate_limit_public_per_minute=6)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    tenant = make_tenant(runtime, "acme")
    body = {"query": "where is my parcel"}
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        codes = [
            client.post("/v1/suggest", json=body, headers=tenant.headers("public")).status_code
            for _ in range(6)
        ]
        assert codes[:5] == [200] * 5 and codes[5] == 429
        # The probe got 100 of 100 through after a 429; a query key now reads as no key at all.
        codes = [
            client.post("/v1/suggest" + trick.format(k=tenant.public), json=body).status_code
            for trick in QUERY_TRICKS * 10
        ]
        assert 200 not in codes and set(codes) <= {401, 429}
    runtime.close()


def test_another_tenants_origin_is_never_allowed_through_the_query_string(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    other = make_tenant(runtime, "globex")
    client.put(
        "/v1/tenant/origins", json={"origins": ["https://globex.example"]}, headers=other.headers("admin")
    )
    for trick in QUERY_TRICKS:
        response = client.post(
            "/v1/suggest" + trick.format(k=tenant.public),
            json={"query": "parcel"},
            headers={"Origin": "https://globex.example", "X-API-Key": other.public},
        )
        assert response.status_code == 200  # globex's own key from globex's origin
        foreign = client.post(
            "/v1/suggest" + trick.format(k=other.public),
            json={"query": "parcel"},
            headers={"Origin": "https://globex.example", "X-API-Key": tenant.public},
        )
        assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
        keyless = client.post(
            "/v1/suggest" + trick.format(k=other.public),
            json={"query": "parcel"},
            headers={"Origin": "https://globex.example"},
        )
        assert keyless.status_code == 401 and "access-control-allow-origin" not in keyless.headers


def test_several_different_keys_in_one_request_are_refused(client: TestClient, tenant: TenantKeys) -> None:
    both = client.get(
        "/v1/keys", headers={"X-API-Key": tenant.public, "Authorization": f"Bearer {tenant.admin}"}
    )
    assert both.status_code == 401 and "one API key" in both.json()["error"]["message"]
    twice = client.get("/v1/keys", headers=[("X-API-Key", tenant.public), ("X-API-Key", tenant.admin)])
    assert twice.status_code == 401
    same = client.get(
        "/v1/keys", headers={"X-API-Key": tenant.admin, "Authorization": f"Bearer {tenant.admin}"}
    )
    assert same.status_code == 200


def test_the_key_reader() -> None:
    assert raw_key_from(Headers({"authorization": "Bearer  abc "})) == "abc"
    assert raw_key_from(Headers({"authorization": "Basic abc"})) is None
    assert raw_key_from(Headers({"x-api-key": "abc"})) == "abc"
    assert raw_key_from(Headers({})) is None
    with pytest.raises(AmbiguousKeyError):
        raw_key_from(Headers(raw=[(b"x-api-key", b"a"), (b"x-api-key", b"b")]))


def _scope(peer: str) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 1234)}


def test_forwarded_for_is_believed_only_from_configured_proxies() -> None:
    headers = Headers(raw=[(b"x-forwarded-for", b"6.6.6.6, 203.0.113.9, 10.0.0.7")])
    assert client_ip(_scope("127.0.0.1"), headers, ()) == "127.0.0.1"  # loopback is not trusted by default
    trusted = parse_networks(["10.0.0.0/8"])
    assert client_ip(_scope("198.51.100.1"), headers, trusted) == "198.51.100.1"  # not a proxy of ours
    # From our proxy: the right-most address that is not ours; the forged left-most entry is ignored.
    assert client_ip(_scope("10.0.0.2"), headers, trusted) == "203.0.113.9"
    assert client_ip(_scope("10.0.0.2"), Headers({}), trusted) == "10.0.0.2"
    assert client_ip(_scope("10.0.0.2"), Headers({"x-forwarded-for": "not-an-ip"}), trusted) == "10.0.0.2"


def test_rotating_forwarded_for_does_not_escape_the_address_limit(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "var", rate_limit_ip_per_minute=5)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    app = create_app(settings, runtime=runtime, warm_sync=True)
    with TestClient(app, client=("127.0.0.1", 5000)) as client:
        codes = [
            client.get("/v1/articles", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(8)
        ]
    # At most one more may pass when the sliding window turns over mid-test.
    assert codes[:5] == [401] * 5 and codes[5:].count(429) >= 2

    proxied = Settings(
        data_dir=tmp_path / "var2",
        rate_limit_ip_per_minute=5,
        trusted_proxies=["127.0.0.1"],
    )
    runtime2 = Runtime(proxied, encoders=hashing_encoders)
    runtime2.migrate()
    with TestClient(
        create_app(proxied, runtime=runtime2, warm_sync=True), client=("127.0.0.1", 5000)
    ) as client:
        codes = [
            client.get("/v1/articles", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(8)
        ]
        assert codes == [401] * 8  # behind the configured proxy, each forwarded client has its own budget
        same = [
            client.get("/v1/articles", headers={"X-Forwarded-For": "203.0.113.99"}).status_code
            for _ in range(8)
        ]
        assert same.count(429) >= 2
    runtime.close()
    runtime2.close()


def test_auth_opens_no_session_of_its_own(client: TestClient, tenant: TenantKeys, runtime: Runtime) -> None:
    """One key lookup per request (in the middleware) beside the route's own session; the last-use stamp
    is written once a minute, not on every request."""
    agent = tenant.headers("agent")
    assert client.get("/v1/articles", headers=agent).status_code == 200  # stamps the first use
    opened: list[int] = []
    factory = runtime.session_factory

    def counting(**kw: Any) -> Any:
        opened.append(1)
        return factory(**kw)

    runtime.session_factory = counting  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert client.get("/v1/articles", headers=agent).status_code == 200
    finally:
        runtime.session_factory = factory
    assert len(opened) == 3 * 2
