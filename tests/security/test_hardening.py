"""Hardening: no tenant list on public endpoints, browser security headers, a private data directory,
and validation gaps (non-finite numbers, NUL characters, repeated ids, error field names)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.factories import write_jsonl
from tests.support.encoders import hashing_encoders


def test_probes_and_metrics_name_no_tenant(client: TestClient, tenant: TenantKeys, runtime: Runtime) -> None:
    other = make_tenant(runtime, "globex-secret-tenant")
    for keys in (tenant, other):
        client.post("/v1/suggest", json={"query": "parcel"}, headers=keys.headers("public"))
    runtime.search.collection(other.tenant_id, "articles")
    for path in ("/readyz", "/metrics", "/healthz"):
        text = client.get(path).text
        assert tenant.tenant_id not in text and other.tenant_id not in text, (path, text[:500])
    assert 'deflect_index_items{collection="articles"}' in client.get("/metrics").text


def test_metrics_can_require_a_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", metrics_token="s3cret-scrape-token")
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
        assert ok.status_code == 200 and "deflect_request_seconds" in ok.text
    runtime.close()


def test_readyz_has_its_own_probe_budget(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", rate_limit_ip_per_minute=5)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        for _ in range(8):
            client.get("/v1/articles")  # the address's own budget is spent
        assert client.get("/v1/articles").status_code == 429
        assert client.get("/readyz").status_code == 200 and client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 429  # /metrics counts like any request
    runtime.close()


@pytest.mark.parametrize("path", ["/help", "/contact", "/console", "/reports"])
def test_pages_cannot_be_framed_and_run_only_their_own_scripts(
    client: TestClient, runtime: Runtime, path: str
) -> None:
    from cli.core import load_demo

    load_demo(runtime, runtime.settings.demo_tenant)
    response = client.get(path)
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    assert (
        "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    )
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_response_carries_the_base_headers(client: TestClient, tenant: TenantKeys) -> None:
    for response in (
        client.get("/v1/articles", headers=tenant.headers("public")),
        client.get("/v1/articles"),  # 401 from a route
        client.get("/static/widget.js"),
        client.post(
            "/v1/suggest", content=b"x" * 6_000_000, headers={"content-type": "application/json"}
        ),  # 413
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.status_code
        assert response.headers["x-frame-options"] == "DENY"


def test_the_data_directory_and_database_are_private(runtime: Runtime, settings: Settings) -> None:
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) & 0o077 == 0
    for name in ("deflect.db", "deflect.db-wal", "deflect.db-shm"):
        path = settings.data_dir / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, name


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    (data_dir / "deflect.db").touch(mode=0o644)
    runtime = Runtime(Settings(data_dir=data_dir), encoders=hashing_encoders)
    runtime.migrate()
    assert stat.S_IMODE((data_dir / "deflect.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    runtime.close()


@pytest.mark.parametrize("value", [b"Infinity", b"-Infinity", b"NaN", b"1e999"])
def test_non_finite_handling_seconds_are_refused(
    client: TestClient, tenant: TenantKeys, value: bytes
) -> None:
    body = b'{"id": "t-inf", "channel": "email", "body": "hello there", "handling_seconds": ' + value + b"}"
    response = client.post(
        "/v1/tickets", content=body, headers={**tenant.headers("agent"), "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("handling_seconds:")


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/v1/tickets", {"id": "t-nul", "channel": "email", "body": "hello", "subject": "a\x00b"}),
        (
            "POST",
            "/v1/tickets",
            {"id": "t-nul", "channel": "email", "body": "hello", "customer": {"name": "x\x00"}},
        ),
        ("POST", "/v1/articles", {"id": "a-nul", "title": "Title\x00", "body": "body"}),
        ("POST", "/v1/articles/import", [{"id": "a-nul", "title": "T", "body": "b\x00"}]),
        ("POST", "/v1/orders/import", [{"order_id": "o-1", "channel": "web", "customer": {"name": "\x00"}}]),
    ],
)
def test_nul_characters_are_refused_everywhere(
    client: TestClient, tenant: TenantKeys, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body, headers=tenant.headers("admin"))
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]["message"]


def test_nul_in_a_url_is_refused(client: TestClient, tenant: TenantKeys) -> None:
    assert client.get("/v1/articles?q=a%00b", headers=tenant.headers("public")).status_code == 422
    assert client.get("/v1/tickets/t%00x", headers=tenant.headers("agent")).status_code in (404, 422)


def test_nul_characters_in_import_files_are_reported_by_line(tmp_path: Path, runtime: Runtime) -> None:
    from core.errors import ImportFileError
    from kb import service as kb_service

    path = write_jsonl(
        tmp_path / "a.jsonl",
        [{"id": "a", "title": "ok", "body": "b"}, {"id": "b", "title": "x\x00", "body": "b"}],
    )
    with pytest.raises(ImportFileError, match=r"a.jsonl:2: text holds a NUL"):
        kb_service.parse_articles_jsonl(path)


def test_an_article_import_with_a_repeated_id_is_refused(client: TestClient, tenant: TenantKeys) -> None:
    rows = [{"id": "dup", "title": "First", "body": "one"}, {"id": "dup", "title": "Second", "body": "two"}]
    response = client.post("/v1/articles/import", json=rows, headers=tenant.headers("admin"))
    assert response.status_code == 422, response.text
    assert "duplicate id 'dup'" in response.json()["error"]["message"]
    assert client.get("/v1/articles/dup", headers=tenant.headers("public")).status_code == 404


def test_a_markdown_folder_with_a_repeated_id_is_refused(tmp_path: Path, runtime: Runtime) -> None:
    from core.errors import ImportFileError
    from kb import service as kb_service

    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(f"---\nid: same\ntitle: {name}\n---\nbody of {name}\n", encoding="utf-8")
    with runtime.session() as session, pytest.raises(ImportFileError, match="duplicate id 'same'"):
        kb_service.import_path(session, tenant_id="t", path=tmp_path)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"id": "x", "channel": "email", "body": "hello", "created_at": "not a date"}, "created_at:"),
        ({"id": "x", "channel": "fax", "body": "hello"}, "channel:"),
        ({"id": "x", "channel": "email"}, "body:"),
        (
            {"tickets": [{"id": "x", "channel": "email", "body": "hi", "created_at": "bad"}]},
            "tickets.0.created_at:",
        ),
        ({"tickets": []}, "tickets:"),
    ],
)
def test_ticket_errors_name_the_field_that_is_wrong(
    client: TestClient, tenant: TenantKeys, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/tickets", json=body, headers=tenant.headers("agent"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(field), response.json()["error"]["message"]
