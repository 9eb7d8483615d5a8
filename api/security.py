"""The request pipeline: client address, body limit, the API key, abuse limits and per-tenant CORS,
as one ASGI middleware in front of every route.

The key is read once (headers only), hashed once and looked up once per request; the principal is
stored on the request for the auth dependencies in api/deps.py, which open no session of their own.

Limits (core/ratelimit.py; per replica with `memory://`, shared with a Redis storage URI):
- per client IP over every request (`rate_limit_ip_per_minute`), keyed or not, so guessing
  keys or hammering 401s costs the caller, not the database;
- per public key *and* client IP (`rate_limit_public_per_minute`): the widget key is shared by
  every visitor of a shop, so it is limited per visitor, with a burst of a few seconds of typing,
  which keeps a scraper from enumerating articles faster than a person types;
- per agent/admin key (`rate_limit_per_minute`).

The client IP is the TCP peer, unless the peer is one of `trusted_proxies`: only then is
X-Forwarded-For read.

CORS: a browser's preflight (OPTIONS) carries no key, so it is answered for any origin that
some tenant lists; the actual request carries the key, and is refused (403) when its origin is
not one of *that key's tenant's* allowed origins. Same-origin pages (the bundled help centre
and console) are always allowed.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from core import keys
from core.errors import InvalidInputError, NotFoundError
from core.models import ApiKey, Tenant
from core.ratelimit import Rate, per_minute_with_burst
from core.redact import install_log_redaction
from core.schemas import text_problem
from core.settings import Settings
from runtime import Runtime

# Load-balancer probes must not share the address budget of the traffic they front (a balancer often
# forwards clients from its own address): /healthz (no database) is not limited, /readyz (one
# indexed read) has its own budget per address, far above any probe's pace and far below a flood.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
PROBE_RATE = Rate(600, 60)
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = frozenset({"content-type", "x-api-key", "authorization", "accept", "accept-language"})
CACHE_SECONDS = 10.0
MAX_ORIGINS = 50


# -- origins -----------------------------------------------------------------------


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` in lower case, or InvalidInputError saying what is wrong."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"origin {value[:100]!r} must look like https://shop.example or http://host:port"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInputError(f"origin {value[:100]!r} must have no path, query or user info")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(f"origin {value[:100]!r} has an invalid port") from exc
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{suffix}"


def set_allowed_origins(session: Session, *, tenant_id: str, origins: Iterable[str]) -> list[str]:
    """Replaces the tenant's allowed browser origins; returns them normalised and sorted."""
    cleaned = sorted({normalise_origin(o) for o in origins})
    if len(cleaned) > MAX_ORIGINS:
        raise InvalidInputError(f"at most {MAX_ORIGINS} origins per tenant")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id!r} not found")
    tenant.allowed_origins = cleaned
    session.flush()
    return cleaned


def allowed_origins(session: Session, *, tenant_id: str) -> list[str]:
    """The tenant's allowed browser origins."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"tenant {tenant_id!r} not found")
    return sorted(tenant.allowed_origins or [])


# -- the caller -------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """The key a request authenticated with, looked up once per request by the middleware."""

    tenant_id: str
    role: str
    key_id: int
    label: str = ""
    origins: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        """How audit trails name the caller, e.g. "admin-key:3 (support lead)": the id is what is
        unique, the label what a person recognises."""
        return f"{self.role}-key:{self.key_id}" + (f" ({self.label})" if self.label else "")


@dataclass(frozen=True)
class Caller:
    """What the middleware learnt about a request; routes read it from `request.state.caller`."""

    ip: str
    key_presented: bool
    principal: Principal | None
    problem: str | None = None


AMBIGUOUS_KEY = "send one API key, in 'Authorization: Bearer <key>' or 'X-API-Key', not several"


class AmbiguousKeyError(Exception):
    pass


def raw_key_from(headers: Headers) -> str | None:
    """The one reader of a request's API key, for the limiter, CORS and authentication alike.

    Only headers: `Authorization: Bearer <key>` or `X-API-Key`. Never the query string, where a key
    lands in logs, browser history and Referer headers, and where repeated or encoded names
    (`?key=a&key=b`, `?%6Bey=`) read differently to different parsers. Several different keys in
    one request are refused rather than one of them picked.
    """
    found: set[str] = set()
    for value in headers.getlist("authorization"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found.add(token.strip())
    for value in headers.getlist("x-api-key"):
        if value.strip():
            found.add(value.strip())
    if len(found) > 1:
        raise AmbiguousKeyError(AMBIGUOUS_KEY)
    return next(iter(found), None)


def parse_networks(values: Iterable[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    """CIDRs or single addresses; ValueError names the bad one."""
    out: list[IPv4Network | IPv6Network] = []
    for value in values:
        try:
            out.append(ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network (e.g. 10.0.0.0/8)") from exc
    return tuple(out)


def _in(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        parsed = ip_address(address.strip())
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_ip(scope: Scope, headers: Headers, trusted: tuple[IPv4Network | IPv6Network, ...]) -> str:
    """The caller's address: the peer, or, only when the peer is a configured proxy, the nearest
    address in X-Forwarded-For that is not one of our proxies (the left-most entries are the client's
    own claims and can be forged)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [h.strip() for value in headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            try:
                return str(ip_address(hop))
            except ValueError:
                return peer  # garbage from the outside: the proxy is all we know
    return peer


def lookup_principal(session: Session, key_hash: str) -> tuple[Principal, datetime | None] | None:
    """The active key with this hash, its tenant's origins and its last use, in one query;
    None when unknown or revoked."""
    row = session.execute(
        select(
            ApiKey.id,
            ApiKey.tenant_id,
            ApiKey.role,
            ApiKey.label,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
            Tenant.allowed_origins,
        )
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == key_hash)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    principal = Principal(
        tenant_id=row.tenant_id,
        role=row.role,
        key_id=row.id,
        label=row.label or "",
        origins=frozenset(row.allowed_origins or ()),
    )
    return principal, row.last_used_at


# Escapes that may decode to unstorable text: a NUL or a UTF-16 surrogate.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def body_text_problem(body: bytes) -> str | None:
    """Why a JSON body's text cannot be stored (core.schemas.text_problem), or None.

    Python's JSON parser accepts "\\u0000" and a lone "\\ud800"; the string then fails in whichever
    service first writes it (a 500), or PostgreSQL refuses it. Checked once here for every body; the
    common case (no such escape at all) costs one byte scan.
    """
    if not _SUSPECT_ESCAPE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own parsing reports it
    return text_problem(parsed)


# Every response: no MIME sniffing, never framed (the console must not be clickjacked), no full URL in
# Referer. HTML pages also get a policy allowing only this origin's scripts, styles and requests; the
# interactive API docs load their assets from a CDN and keep the framing rules only.
BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
PAGE_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


def _page_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}
    out = [(name, value) for name, value in BASE_HEADERS if name not in names]
    html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)
    if html and b"content-security-policy" not in names and not path.startswith(DOCS_PATHS):
        out.append((b"content-security-policy", PAGE_POLICY))
    return out


def _json_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> list[Message]:
    body = json.dumps(error_body(code, message)).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()] + BASE_HEADERS
    return [
        {"type": "http.response.start", "status": status, "headers": raw_headers},
        {"type": "http.response.body", "body": body},
    ]


class Guard:
    """What one app's middleware shares with its routes: the limits, proxy trust, the origins cache."""

    def __init__(self, *, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.limits = runtime.limits
        self.trusted_proxies = parse_networks(settings.trusted_proxies)
        s = settings
        self.ip_rates = (Rate(s.rate_limit_ip_per_minute, 60),)
        self.public_rates = per_minute_with_burst(s.rate_limit_public_per_minute, burst_seconds=15)
        self.key_rates = per_minute_with_burst(s.rate_limit_per_minute, burst_seconds=10)
        self._all_origins: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._cache_lock = threading.Lock()

    def invalidate(self) -> None:
        with self._cache_lock:
            self._all_origins = (0.0, frozenset())

    def authenticate(self, raw_key: str) -> Principal | None:
        """One uncached lookup per request, on a connection returned before the route runs, so a
        revoked key stops at once and a request never holds two connections. The last-use stamp is
        a separate best-effort write, at most once a minute per key."""
        if len(raw_key) > 200:
            return None
        with self.runtime.session_factory() as session:
            found = lookup_principal(session, keys.hash_key(raw_key))
        if found is None:
            return None
        principal, last_used_at = found
        if keys.use_is_stale(last_used_at):
            keys.record_use(self.runtime.session_factory, key_id=principal.key_id)
        return principal

    def listed_origins(self) -> frozenset[str]:
        """Every origin some tenant lists (for preflights, which carry no key); cached for a few seconds."""
        now = time.monotonic()
        with self._cache_lock:
            stamp, origins = self._all_origins
            if now - stamp < CACHE_SECONDS:
                return origins
        with self.runtime.session_factory() as session:
            lists = session.scalars(select(Tenant.allowed_origins)).all()
        origins = frozenset(o for listed in lists for o in (listed or ()))
        with self._cache_lock:
            self._all_origins = (now, origins)
        return origins


class SecurityMiddleware:
    """The request pipeline in front of every route: client address, body limit, the API key (read,
    hashed and looked up once), rate limits and per-tenant CORS. The result is stored on the request
    (`request.state.caller`) for the routes' auth dependencies."""

    def __init__(self, app: ASGIApp, *, guard: Guard) -> None:
        self.app = app
        self.guard = guard
        self.settings = guard.settings
        self.limits = guard.limits

    @staticmethod
    def _same_origin(origin: str, headers: Headers, scope: Scope) -> bool:
        host = headers.get("host")
        return bool(host) and origin in (
            f"{scope.get('scheme', 'http')}://{host}".lower(),
            f"http://{host}".lower(),
            f"https://{host}".lower(),
        )

    async def _send_all(self, send: Send, messages: list[Message]) -> None:
        for message in messages:
            await send(message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        ip = client_ip(scope, headers, self.guard.trusted_proxies)
        if scope.get("client") and ip != scope["client"][0]:
            scope["client"] = (ip, 0)  # access logs and request.client see the resolved address
        origin_header = headers.get("origin")
        origin: str | None = None
        if origin_header and origin_header != "null":
            try:
                origin = normalise_origin(origin_header)
            except InvalidInputError:
                origin = origin_header.lower()
        path: str = scope["path"]
        if "\x00" in path or b"%00" in scope.get("query_string", b"").lower():
            await self._send_all(
                send, _json_response(422, "invalid_request", "a NUL character in the URL is not allowed")
            )
            return

        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._send_all(send, await self._preflight(origin, headers, scope, ip))
            return

        limited = path not in UNLIMITED_PATHS
        if path == "/readyz":
            wait = self.limits.hit(f"probe:{ip}", PROBE_RATE)
            if wait:
                await self._send_all(send, self._too_many(wait, "this address"))
                return
        if limited:
            wait = self.limits.hit(f"ip:{ip}", *self.guard.ip_rates)
            if wait:
                await self._send_all(send, self._too_many(wait, "this address"))
                return

        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.settings.max_body_bytes):
            await self._send_all(send, self._too_large())
            return

        try:
            raw = raw_key_from(headers)
            problem = None
        except AmbiguousKeyError as exc:
            raw, problem = None, str(exc)
        principal: Principal | None = None
        if raw is not None:
            principal = await run_in_threadpool(self.guard.authenticate, raw)
            if principal is None:
                problem = "invalid or revoked API key"
        scope.setdefault("state", {})["caller"] = Caller(
            ip=ip, key_presented=raw is not None or problem is not None, principal=principal, problem=problem
        )
        if principal is not None and limited:
            if principal.role == "public":
                # The widget key is shared by every visitor of a shop: limited per visitor.
                name, rates = f"pub:{principal.key_id}:{ip}", self.guard.public_rates
            else:
                name, rates = f"key:{principal.key_id}", self.guard.key_rates
            wait = self.limits.hit(name, *rates)
            if wait:
                await self._send_all(send, self._too_many(wait, "this key"))
                return

        cors_headers: list[tuple[bytes, bytes]] = []
        if origin is not None and not self._same_origin(origin, headers, scope):
            if principal is not None and origin not in principal.origins:
                await self._send_all(
                    send,
                    _json_response(
                        403,
                        "origin_not_allowed",
                        f"origin {origin[:200]} is not in this tenant's allowed origins; an admin adds it "
                        "with PUT /v1/tenant/origins",
                    ),
                )
                return
            if principal is not None:  # and so its tenant lists this origin
                cors_headers = [
                    (b"access-control-allow-origin", origin.encode("latin-1", "replace")),
                    (b"vary", b"Origin"),
                ]

        if scope["method"] in ("POST", "PUT", "PATCH"):
            # Read here, once, within the limit (chunked bodies have no Content-Length to check).
            buffered = await self._read_limited(receive)
            if buffered is None:
                await self._send_all(send, self._too_large())
                return
            problem = body_text_problem(b"".join(m.get("body", b"") for m in buffered))
            if problem:
                await self._send_all(send, _json_response(422, "invalid_request", f"body: {problem}"))
                return
            receive = self._replay(buffered, receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers_out = list(message.get("headers", []))
                message = {
                    **message,
                    "headers": headers_out + cors_headers + _page_headers(path, headers_out),
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _too_large(self) -> list[Message]:
        return _json_response(
            413, "payload_too_large", f"request body over {self.settings.max_body_bytes} bytes"
        )

    async def _preflight(self, origin: str, headers: Headers, scope: Scope, ip: str) -> list[Message]:
        wait = self.limits.hit(f"ip:{ip}", *self.guard.ip_rates)
        if wait:
            return self._too_many(wait, "this address")
        if origin not in await run_in_threadpool(self.guard.listed_origins) and not self._same_origin(
            origin, headers, scope
        ):
            return _json_response(
                403, "origin_not_allowed", f"origin {origin[:200]} is not allowed by any tenant"
            )
        requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")]
        allowed = ", ".join(h for h in requested if h in ALLOWED_HEADERS) or "content-type"
        return [
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin.encode("latin-1", "replace")),
                    (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                    (b"access-control-allow-headers", allowed.encode()),
                    (b"access-control-max-age", b"600"),
                    (b"vary", b"Origin"),
                ],
            },
            {"type": "http.response.body", "body": b""},
        ]

    @staticmethod
    def _too_many(wait: float, who: str) -> list[Message]:
        retry_after = max(1, math.ceil(wait))
        return _json_response(
            429,
            "rate_limited",
            f"too many requests from {who}; retry in {retry_after} s",
            {"Retry-After": str(retry_after)},
        )

    async def _read_limited(self, receive: Receive) -> list[Message] | None:
        """Reads a body sent without Content-Length (chunked) up to the limit; None when over it."""
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            total += len(message.get("body", b""))
            if total > self.settings.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    @staticmethod
    def _replay(messages: list[Message], receive: Receive) -> Receive:
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay


def install_security(app: Any, settings: Settings, runtime: Runtime) -> Guard:
    """Adds the middleware (outermost when called last) and scrubs secrets from this process's logs."""

    install_log_redaction()
    guard = Guard(settings=settings, runtime=runtime)
    app.state.security = guard
    app.add_middleware(SecurityMiddleware, guard=guard)
    return guard
