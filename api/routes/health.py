from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import RuntimeDep
from core.errors import UnauthorizedError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """Ready once the model is loaded and the indexes keep up with the database.

    Under sustained writes an index is always a few changes behind, by design (it catches up every
    `index_sync_seconds`); that is ready. Not ready: still loading, or behind and not caught up for
    `ready_max_lag_seconds` (the sync is failing or stuck). Names no tenant and no index size.
    """
    if not getattr(request.app.state, "warm", False):
        return JSONResponse({"ready": False, "reason": "loading model and indexes"}, status_code=503)
    synced_ago = time.monotonic() - getattr(request.app.state, "synced_at", 0.0)
    caught_up = runtime.search.is_caught_up()
    ready = caught_up or synced_ago <= runtime.settings.ready_max_lag_seconds
    body = {
        "ready": ready,
        "encoder": runtime.search.encoder.name,
        "index": "caught_up" if caught_up else "catching_up",
        "synced_seconds_ago": round(synced_ago, 1),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics(runtime: RuntimeDep, request: Request) -> Response:
    """Prometheus exposition: request latency histograms, index sizes per collection, model name.

    With DEFLECT_METRICS_TOKEN set, only `Authorization: Bearer <token>` may read it.
    """
    token = runtime.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise UnauthorizedError("metrics need 'Authorization: Bearer <DEFLECT_METRICS_TOKEN>'")
    registry = request.app.state.metrics
    if getattr(request.app.state, "warm", False):
        registry.model.info({"name": runtime.search.encoder.name, "version": runtime.search.encoder.version})
        sizes: dict[str, int] = {}
        for key, size in runtime.search.stats().items():
            collection = key.split("/", 1)[1]
            sizes[collection] = sizes.get(collection, 0) + size
        for collection, size in sizes.items():
            registry.index_items.labels(collection).set(size)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
