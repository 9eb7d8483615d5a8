"""Abuse limits and per-tenant CORS, as one ASGI middleware in front of every route.

Rate limits are token buckets held in this process: each replica enforces its own share, so
N replicas behind a load balancer let through up to N times the configured rate. That is the
documented trade-off of the embedded default; with DEFLECT_REDIS_URL set, the counters live in
Redis (the `limits` library) and every replica draws on one budget.

Buckets:
- per client IP over every request (`rate_limit_ip_per_minute`), keyed or not, so guessing
  keys or hammering 401s costs the caller, not the database;
- per public key *and* client IP (`rate_limit_public_per_minute`): the widget key is shared by
  every visitor of a shop, so it is limited per visitor, with a burst of a few seconds of typing,
  which keeps a scraper from enumerating articles faster than a person types;
- per agent/admin key (`rate_limit_per_minute`).

CORS: a browser's preflight (OPTIONS) carries no key, so it is answered for any origin that
some tenant lists; the actual request carries the key, and is refused (403) when its origin is
not one of *that key's tenant's* allowed origins. Same-origin pages (the bundled help centre
and console) are always allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import InvalidInputError, NotFoundError
from core.models import ApiKey, Tenant
from core.ratelimit import Rate, RateLimits
from core.redact import install_log_redaction
from core.settings import Settings
from runtime import Runtime

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
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


# -- token buckets -----------------------------------------------------------------


class RateLimiter:
    """Token buckets by name; bounded so a flood of distinct IPs or keys cannot exhaust memory."""

    def __init__(self, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, name: str, *, per_minute: int, burst: int, now: float | None = None) -> float:
        """Takes one token; returns 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        with self._lock:
            tokens, updated = self._buckets.pop(name, (float(burst), now))
            tokens = min(float(burst), tokens + (now - updated) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[name] = (tokens, now)
            if len(self._buckets) > self.max_buckets:
                # Evicting the least recently used bucket resets it; only a caller rotating
                # through more than max_buckets names gains from that, and the IP bucket still holds.
                self._buckets.popitem(last=False)
            return wait


class SharedRateLimiter:
    """RateLimiter's buckets counted in a store every replica shares (DEFLECT_REDIS_URL), so N replicas
    allow the configured rate once, not N times: a burst cap plus the per-minute rate (core/ratelimit.py)."""

    def __init__(self, storage_uri: str) -> None:
        self.limits = RateLimits(storage_uri)

    def take(self, name: str, *, per_minute: int, burst: int, now: float | None = None) -> float:
        burst_seconds = max(1, math.ceil(burst * 60 / per_minute))
        return self.limits.hit(name, Rate(burst, burst_seconds, exact=True), Rate(per_minute, 60))


def burst_for(per_minute: int, *, seconds: float) -> int:
    """Bucket size: `seconds` worth of the rate, never below a handful of requests."""
    return max(5, math.ceil(per_minute * seconds / 60.0))


# -- middleware --------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    tenant_id: str
    role: str
    origins: frozenset[str]


def raw_key_from(scope: Scope, headers: Headers) -> str | None:
    """The key as api/deps.py reads it: Bearer header, X-API-Key, or ?key= (widget embeds)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    query = scope.get("query_string", b"").decode("latin-1")
    if "key=" in query:
        values = parse_qs(query).get("key")
        return values[0] if values else None
    return None


def _json_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> list[Message]:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return [
        {"type": "http.response.start", "status": status, "headers": raw_headers},
        {"type": "http.response.body", "body": body},
    ]


class Guard:
    """The limiter and the key/origin caches one app shares between its middleware and routes."""

    def __init__(self, *, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.limiter: RateLimiter | SharedRateLimiter = (
            SharedRateLimiter(settings.redis_url) if settings.redis_url else RateLimiter()
        )
        self._keys: OrderedDict[str, tuple[float, KeyInfo]] = OrderedDict()
        self._all_origins: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._cache_lock = threading.Lock()

    # Cached lookups. Authentication itself is not cached (api/deps.py checks every request), so a
    # revoked key stops at once; only CORS and limit decisions may use data up to CACHE_SECONDS old.
    def invalidate(self) -> None:
        with self._cache_lock:
            self._keys.clear()
            self._all_origins = (0.0, frozenset())

    def lookup_key(self, key_hash: str) -> KeyInfo | None:
        now = time.monotonic()
        with self._cache_lock:
            cached = self._keys.get(key_hash)
            if cached is not None and now - cached[0] < CACHE_SECONDS:
                return cached[1]
        with self.runtime.session() as session:
            row = session.execute(
                select(ApiKey.tenant_id, ApiKey.role, ApiKey.revoked_at, Tenant.allowed_origins)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.key_hash == key_hash)
            ).first()
        if row is None or row.revoked_at is not None:
            return None  # not cached: a key created a moment ago must work at once
        info = KeyInfo(tenant_id=row.tenant_id, role=row.role, origins=frozenset(row.allowed_origins or ()))
        with self._cache_lock:
            self._keys[key_hash] = (now, info)
            if len(self._keys) > 10_000:
                self._keys.popitem(last=False)
        return info

    def listed_origins(self) -> frozenset[str]:
        now = time.monotonic()
        with self._cache_lock:
            stamp, origins = self._all_origins
            if now - stamp < CACHE_SECONDS:
                return origins
        with self.runtime.session() as session:
            lists = session.scalars(select(Tenant.allowed_origins)).all()
        origins = frozenset(o for listed in lists for o in (listed or ()))
        with self._cache_lock:
            self._all_origins = (now, origins)
        return origins


class SecurityMiddleware:
    """Rate limits, body size limit for chunked uploads, and per-tenant CORS."""

    def __init__(self, app: ASGIApp, *, guard: Guard) -> None:
        self.app = app
        self.guard = guard
        self.settings = guard.settings
        self.limiter = guard.limiter

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
        origin_header = headers.get("origin")
        origin: str | None = None
        if origin_header and origin_header != "null":
            try:
                origin = normalise_origin(origin_header)
            except InvalidInputError:
                origin = origin_header.lower()
        path: str = scope["path"]
        client = scope.get("client")
        ip = client[0] if client else "unknown"

        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._send_all(send, await self._preflight(origin, headers, scope, ip))
            return

        limited = path not in UNLIMITED_PATHS
        if limited:
            s = self.settings
            wait = self.limiter.take(
                f"ip:{ip}",
                per_minute=s.rate_limit_ip_per_minute,
                burst=burst_for(s.rate_limit_ip_per_minute, seconds=60),
            )
            if wait:
                await self._send_all(send, self._too_many(wait, "this address"))
                return

        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            await self._send_all(
                send,
                _json_response(
                    413, "payload_too_large", f"request body over {self.settings.max_body_bytes} bytes"
                ),
            )
            return

        info: KeyInfo | None = None
        raw = raw_key_from(scope, headers)
        if raw and len(raw) <= 200:
            key_hash = hashlib.sha256(raw.encode("utf-8")).hexdigest()
            info = await run_in_threadpool(self.guard.lookup_key, key_hash)
            if info is not None and limited:
                if info.role == "public":
                    name, per_minute = f"pub:{key_hash}:{ip}", self.settings.rate_limit_public_per_minute
                    burst = burst_for(per_minute, seconds=15)
                else:
                    name, per_minute = f"key:{key_hash}", self.settings.rate_limit_per_minute
                    burst = burst_for(per_minute, seconds=10)
                wait = self.limiter.take(name, per_minute=per_minute, burst=burst)
                if wait:
                    await self._send_all(send, self._too_many(wait, "this key"))
                    return

        cors_headers: list[tuple[bytes, bytes]] = []
        if origin is not None and not self._same_origin(origin, headers, scope):
            if info is not None and origin not in info.origins:
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
            if info is not None or origin in await run_in_threadpool(self.guard.listed_origins):
                cors_headers = [
                    (b"access-control-allow-origin", origin.encode("latin-1", "replace")),
                    (b"vary", b"Origin"),
                ]

        if "content-length" not in headers and scope["method"] in ("POST", "PUT", "PATCH"):
            buffered = await self._read_limited(receive)
            if buffered is None:
                await self._send_all(
                    send,
                    _json_response(
                        413, "payload_too_large", f"request body over {self.settings.max_body_bytes} bytes"
                    ),
                )
                return
            receive = self._replay(buffered, receive)

        if not cors_headers:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + cors_headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: str, headers: Headers, scope: Scope, ip: str) -> list[Message]:
        wait = self.limiter.take(
            f"ip:{ip}",
            per_minute=self.settings.rate_limit_ip_per_minute,
            burst=burst_for(self.settings.rate_limit_ip_per_minute, seconds=60),
        )
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
