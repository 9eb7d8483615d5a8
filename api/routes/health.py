from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(runtime: RuntimeDep, request: Request) -> JSONResponse:
    """Ready once the model is loaded and every loaded index has caught up with the database."""
    if not getattr(request.app.state, "warm", False):
        return JSONResponse({"ready": False, "reason": "loading model and indexes"}, status_code=503)
    caught_up = runtime.search.is_caught_up()
    return JSONResponse(
        {"ready": caught_up, "encoder": runtime.search.encoder.name, "indexes": runtime.search.stats()},
        status_code=200 if caught_up else 503,
    )


@router.get("/metrics")
def metrics(runtime: RuntimeDep, request: Request) -> Response:
    """Prometheus exposition: request latency histograms, index sizes, model name."""
    registry = request.app.state.metrics
    if getattr(request.app.state, "warm", False):
        registry.model.info({"name": runtime.search.encoder.name, "version": runtime.search.encoder.version})
        for key, size in runtime.search.stats().items():
            tenant, collection = key.split("/", 1)
            registry.index_items.labels(tenant, collection).set(size)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
