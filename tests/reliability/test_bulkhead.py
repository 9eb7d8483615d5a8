"""Encoder-heavy writes take turns; suggestions and reads never queue behind them (api/bulkhead.py)."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Gauge
from starlette.types import Receive, Scope, Send

from api.bulkhead import HeavyRequestGate, is_heavy


class _Downstream:
    """Holds every heavy request until released and counts how many are inside at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0
        self.most_inside = 0
        self.entered = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_heavy(scope["method"], scope["path"]):
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.entered.set()
            await self.release.wait()
            self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


def test_heavy_writes_take_turns_while_a_suggestion_passes_straight_through() -> None:
    async def scenario() -> None:
        downstream = _Downstream()
        waiting = Gauge("waiting", "test", registry=CollectorRegistry())
        gate = HeavyRequestGate(downstream, limit=1, waiting=waiting)
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            drafts = [asyncio.create_task(client.post("/v1/drafts", json={})) for _ in range(3)]
            await asyncio.wait_for(downstream.entered.wait(), 5)
            for _ in range(50):  # let the other two reach the gate
                await asyncio.sleep(0)
            assert downstream.inside == 1
            assert waiting._value.get() == 2

            suggestion = await asyncio.wait_for(client.post("/v1/suggest", json={}), 5)
            assert suggestion.status_code == 200
            assert not any(d.done() for d in drafts)  # it passed while all three drafts were held

            downstream.release.set()
            answers = await asyncio.wait_for(asyncio.gather(*drafts), 5)
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert downstream.most_inside == 1
        assert waiting._value.get() == 0

    # In its own thread: a browser test on this worker may leave an event loop running in the test thread,
    # where asyncio.run() refuses to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def test_the_apps_encoder_heavy_routes_are_exactly_the_gated_ones(client: TestClient) -> None:
    gated = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
        if is_heavy(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
    }
    assert gated == {
        ("POST", "/v1/drafts"),
        ("POST", "/v1/tickets"),
        ("POST", "/v1/articles"),
        ("PATCH", "/v1/articles/{article_id}"),
        ("POST", "/v1/articles/import"),
        ("POST", "/v1/orders/import"),
    }
    wired = [m for m in client.app.user_middleware if m.cls is HeavyRequestGate]  # type: ignore[attr-defined]
    assert [m.kwargs["limit"] for m in wired] == [1]
    assert "deflect_heavy_requests_waiting" in client.get("/metrics").text
