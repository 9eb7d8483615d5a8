"""Rate limits, body and field size limits, CORS per tenant, Unicode and log redaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import normalise_origin
from core.errors import InvalidInputError
from core.ratelimit import RateLimits, per_minute_with_burst
from core.redact import install_log_redaction, redact, redact_with_report
from core.settings import Settings
from runtime import Runtime
from tests.conftest import TenantKeys, make_tenant
from tests.support.encoders import hashing_encoders


def test_rates_allow_a_burst_then_the_minute_rate() -> None:
    limits = RateLimits()
    burst, minute = per_minute_with_burst(120, burst_seconds=15)
    assert (burst.count, burst.seconds, minute.count, minute.seconds) == (30, 15, 120, 60) and burst.exact
    waits = [limits.hit("k", burst, minute) for _ in range(31)]
    assert waits[:30] == [0.0] * 30 and 1.0 <= waits[30] <= 15.0
    assert limits.hit("other", burst, minute) == 0.0  # counters are per name
    assert per_minute_with_burst(6, burst_seconds=10)[0].count == 5  # never below a handful


def test_public_key_is_limited_per_visitor_to_typing_speed(
    settings: Settings, runtime: Runtime, tenant: TenantKeys
) -> None:
    # The shipped rates are checked below; the requests use a budget whose minute rate equals its
    # burst, so no slowness of the machine (a window sliding while the test runs) can let one more in.
    limited_settings = settings.model_copy(update={"rate_limit_public_per_minute": 5})
    app = create_app(limited_settings, runtime=runtime, warm_sync=True)
    burst = per_minute_with_burst(5, burst_seconds=15)[0].count
    body = {"query": "where is my parcel"}
    with (
        TestClient(app, client=("203.0.113.5", 1000)) as visitor,
        TestClient(app, client=("203.0.113.9", 1)) as other,
    ):
        codes = [
            visitor.post("/v1/suggest", json=body, headers=tenant.headers("public")).status_code
            for _ in range(burst + 5)
        ]
        assert codes[:burst] == [200] * burst and set(codes[burst:]) == {429}
        limited = visitor.get("/v1/articles", headers=tenant.headers("public"))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        # Another visitor of the same shop, with the same widget key, is not punished.
        assert other.post("/v1/suggest", json=body, headers=tenant.headers("public")).status_code == 200
        # Agents have their own, larger budget.
        assert visitor.get("/v1/articles", headers=tenant.headers("agent")).status_code == 200
        assert visitor.get("/healthz").status_code == 200
    # A scraper paging through articles gets at most burst + rate*t pages: well under one per keystroke.
    assert settings.rate_limit_public_per_minute / 60 <= 5


def test_per_ip_limit_covers_unauthenticated_guessing(tmp_path: pytest.TempPathFactory) -> None:
    settings = Settings(data_dir=tmp_path / "v", rate_limit_ip_per_minute=6)  # type: ignore[operator]
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        codes = [
            client.get("/v1/articles", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(8)
        ]
    # A sliding-window counter may let one more through when its window turns over mid-test.
    assert codes[:5] == [401] * 5 and 429 in codes[6:]
    runtime.close()


def test_oversized_bodies_get_413_with_a_clear_message(
    client: TestClient, tenant: TenantKeys, settings: Settings
) -> None:
    too_big = b"x" * (settings.max_body_bytes + 1)
    declared = client.post(
        "/v1/suggest",
        content=too_big,
        headers={**tenant.headers("public"), "content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert str(settings.max_body_bytes) in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body arrives chunked
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    chunked = client.post(
        "/v1/suggest",
        content=chunks(),
        headers={**tenant.headers("public"), "content-type": "application/json"},
    )
    assert chunked.status_code == 413
    small_chunked = client.post(
        "/v1/suggest",
        content=iter([b'{"query": ', b'"parcel"}']),
        headers={**tenant.headers("public"), "content-type": "application/json"},
    )
    assert small_chunked.status_code == 200


def test_oversized_fields_get_422_naming_the_field(client: TestClient, tenant: TenantKeys) -> None:
    response = client.post("/v1/suggest", json={"query": "a" * 5000}, headers=tenant.headers("public"))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("query:")
    assert "a" * 100 not in response.text  # the input is not echoed back
    huge_title = client.post(
        "/v1/articles", json={"id": "x", "title": "t" * 600, "body": "b"}, headers=tenant.headers("admin")
    )
    assert huge_title.status_code == 422 and "title" in huge_title.json()["error"]["message"]
    page = client.get("/v1/articles?limit=100000", headers=tenant.headers("public"))
    assert page.status_code == 422 and "limit" in page.json()["error"]["message"]


UNICODE_SAMPLES = [
    "أين طردي؟ رقم الطلب ١٢٣",  # Arabic, RTL, Arabic-Indic digits
    "איפה החבילה שלי",  # Hebrew
    "where is my 📦📦📦 parcel 🙏🏽👨‍👩‍👧",  # emoji, skin tone, ZWJ family
    "wh\u200bere\u200d is\u2060 my\ufeff parcel",  # zero-width characters inside words
    "\u202eleporp ym si erehw\u202c",  # right-to-left override
    "Donaudampfschifffahrtsgesellschaftskapitänswitwe" * 30,  # one very long word
    "ｗｈｅｒｅ ｉｓ ｍｙ ｐａｒｃｅｌ",  # full-width
    "Z̷̢͎a̶̛͓l̴͚g̸o̵ parcel",  # combining marks
]


@pytest.mark.parametrize("text", UNICODE_SAMPLES)
def test_unicode_queries_and_articles_round_trip(client: TestClient, tenant: TenantKeys, text: str) -> None:
    response = client.post("/v1/suggest", json={"query": text}, headers=tenant.headers("public"))
    assert response.status_code == 200, response.text
    created = client.post(
        "/v1/articles",
        json={"id": "uni", "title": text[:400], "body": text + " body"},
        headers=tenant.headers("admin"),
    )
    assert created.status_code == 201, created.text
    read = client.get("/v1/articles/uni", headers=tenant.headers("public")).json()
    assert read["title"] == text[:400] and read["body"] == text + " body"


def test_binary_junk_is_refused_not_crashed_on(client: TestClient, tenant: TenantKeys) -> None:
    response = client.post(
        "/v1/suggest",
        content=b"\xff\xfe\x00garbage",
        headers={**tenant.headers("public"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    nul = client.post(
        "/v1/suggest", json={"query": "abc\x00\x01\x02\x03def"}, headers=tenant.headers("public")
    )
    assert nul.status_code == 422


# -- CORS ------------------------------------------------------------------------------


def _preflight(client: TestClient, origin: str) -> int:
    return client.options(
        "/v1/suggest",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    ).status_code


def test_cors_follows_each_tenants_allowed_origins(
    client: TestClient, tenant: TenantKeys, runtime: Runtime
) -> None:
    other = make_tenant(runtime, "globex")
    set_other = client.put(
        "/v1/tenant/origins", json={"origins": ["https://globex.example"]}, headers=other.headers("admin")
    )
    assert set_other.json() == {"origins": ["https://globex.example"]}
    # Preflight has no key: any origin some tenant lists is allowed to ask.
    assert _preflight(client, "http://shop.example") == 204
    assert _preflight(client, "https://globex.example") == 204
    assert _preflight(client, "https://evil.example") == 403
    body = {"query": "parcel"}
    own = client.post(
        "/v1/suggest", json=body, headers={**tenant.headers("public"), "Origin": "http://shop.example"}
    )
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == "http://shop.example"
    # The actual request carries the key: globex's origin may not use acme's key.
    foreign = client.post(
        "/v1/suggest", json=body, headers={**tenant.headers("public"), "Origin": "https://globex.example"}
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in foreign.headers
    # Same-origin pages (the bundled help centre) and server-to-server calls need no listing.
    same = client.post(
        "/v1/suggest", json=body, headers={**tenant.headers("public"), "Origin": "http://testserver"}
    )
    assert same.status_code == 200
    assert client.post("/v1/suggest", json=body, headers=tenant.headers("public")).status_code == 200
    # Removing an origin takes effect at once on this replica.
    client.put("/v1/tenant/origins", json={"origins": []}, headers=tenant.headers("admin"))
    gone = client.post(
        "/v1/suggest", json=body, headers={**tenant.headers("public"), "Origin": "http://shop.example"}
    )
    assert gone.status_code == 403


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/path",
        "https://user:pw@shop.example",
        "https://shop.example:99999",
        "*",
    ],
)
def test_bad_origins_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        normalise_origin(bad)


def test_origins_are_normalised() -> None:
    assert normalise_origin("HTTPS://Shop.Example:443/") == "https://shop.example"
    assert normalise_origin("http://localhost:8000") == "http://localhost:8000"


# -- redaction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret,kind",
    [
        ("4111 1111 1111 1111", "card"),
        ("5500-0000-0000-0004", "card"),
        ("378282246310005", "card"),
        ("DE89 3704 0044 0532 0130 00", "iban"),
        ("GB82WEST12345698765432", "iban"),
        ("password: hunter2", "secret"),
        ("mein Passwort ist Geheim123", "secret"),
        ("CVV: 123", "secret"),
        ("dfk_adm_0123456789abcdefghijKLMNOP", "api_key"),
    ],
)
def test_secrets_are_redacted(secret: str, kind: str) -> None:
    result = redact_with_report(f"Hello, here it is {secret} thanks")
    assert result.found.get(kind) == 1, result
    assert secret.split()[-1] not in result.text


@pytest.mark.parametrize(
    "keep",
    [
        "order 114-1234567-1234567",
        "tracking 1Z999AA10123456784",
        "USPS 9400111899223197428490",
        "card ending 1111",
        "4111 1111 1111 1112",
        "walmart 200012345678901",
        "call +44 20 7946 0958",
        "ref DE00 1234 5678 9012 3456 78",
    ],
)
def test_order_ids_and_near_misses_are_kept(keep: str) -> None:
    assert redact(keep) == keep


def test_logs_never_contain_card_numbers(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    logger = logging.getLogger("deflect.test")
    with caplog.at_level(logging.INFO):
        logger.info("customer wrote %s", "my card is 4111111111111111, password: s3cret!")
        try:
            raise ValueError("charge failed for 5500 0000 0000 0004")
        except ValueError:
            logger.exception("payment")
    text = caplog.text
    assert "4111111111111111" not in text and "s3cret" not in text and "5500 0000 0000 0004" not in text
    assert "[REDACTED:card]" in text
