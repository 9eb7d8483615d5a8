"""Encoder-heavy writes wait their turn, so a shopper's suggestion is never queued behind them.

Drafts, ticket and article writes and imports run the encoders on many texts (a draft: every question's
sentences through three encoders; an article: every chunk), for 50 ms to seconds of CPU each, while a
suggestion is mostly cached lookups and a ranking. With the real model, 50 clients on 2 cores (70 %
suggestions, 30 % heavy writes) gave suggestions a p50 of 255-361 ms: each one shared the cores and the
GIL with a dozen drafts in flight. At most `heavy_requests_per_worker` heavy requests run at once in a
worker; the others wait here without holding a thread, and suggestions, reads and the pages pass
straight through. Heavy work gets slower under overload rather than the shop's customers.
"""

from __future__ import annotations

import asyncio
import re
import weakref

from prometheus_client import Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

# POST/PUT/PATCH only: reading a draft or a ticket list is light.
HEAVY_PATHS = re.compile(r"^/v1/(drafts|tickets|articles(/[^/]+)?|[a-z-]+/import)$")


def is_heavy(method: str, path: str) -> bool:
    return method in ("POST", "PUT", "PATCH") and HEAVY_PATHS.match(path) is not None


class HeavyRequestGate:
    """Pure ASGI middleware: a per-event-loop semaphore in front of the heavy routes."""

    def __init__(self, app: ASGIApp, *, limit: int, waiting: Gauge) -> None:
        self.app = app
        self.limit = limit
        self.waiting = waiting
        # One semaphore per event loop: tests run one app under several loops, and an asyncio
        # semaphore belongs to the loop that first waits on it.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        return gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_heavy(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        self.waiting.inc()
        try:
            await gate.acquire()
        finally:
            self.waiting.dec()
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()
