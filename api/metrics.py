"""Prometheus metrics, one registry per app so several apps can live in one test process."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "deflect_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.requests = Counter(
            "deflect_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        # No tenant label: /metrics would otherwise list every tenant id to whoever can reach it.
        self.index_items = Gauge(
            "deflect_index_items",
            "Items in the loaded indexes, all tenants",
            ["collection"],
            registry=self.registry,
        )
        self.heavy_waiting = Gauge(
            "deflect_heavy_requests_waiting",
            "Encoder-heavy writes waiting for their turn (api/bulkhead.py)",
            registry=self.registry,
        )
        self.model = Info("deflect_encoder", "Embedding model in use", registry=self.registry)
        self.abstentions = Counter(
            "deflect_suggest_abstained", "Suggest calls that abstained", registry=self.registry
        )


def install_metrics(app: FastAPI, metrics: Metrics) -> None:
    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.latency.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        metrics.requests.labels(path, str(response.status_code)).inc()
        return response
