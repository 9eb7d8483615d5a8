"""FastAPI app factory: thin routes over the domain services, one Runtime per app."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select

from api.bulkhead import HeavyRequestGate
from api.errors import install_error_handlers
from api.metrics import Metrics, install_metrics
from api.routes import (
    articles,
    channels,
    compliance,
    contact_form,
    deflection,
    drafts,
    health,
    history,
    keys,
    macros,
    pages,
    privacy,
    reports,
    shipments,
    suggest,
    tickets,
)
from api.security import install_security
from core.models import Tenant
from core.settings import Settings, get_settings
from embeddings import language, spelling
from history.tagging import reason_description_vectors
from kb.models import Article
from replies import sandbox
from replies.answers import SENTENCE_CACHE_SIZE, prepare_articles
from replies.drafts import question_classifier
from replies.intents import classifier_for
from runtime import Runtime

log = logging.getLogger(__name__)

ROUTERS = (
    health.router,
    suggest.router,
    articles.router,
    keys.router,
    compliance.router,
    history.router,
    tickets.router,
    drafts.router,
    macros.router,
    contact_form.router,
    deflection.router,
    reports.router,
    shipments.router,
    channels.router,
    privacy.router,
    pages.router,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _warm_up(app: FastAPI, runtime: Runtime) -> None:
    """Loads the model and every tenant's article index off the request path."""
    try:
        search = runtime.search
        with runtime.session() as session:
            tenants = list(session.scalars(select(Tenant.id)))
        # One search per collection builds what the first would (its keyword index: seconds at 100 k
        # chunks), and past tickets vote for articles in every suggestion. With the detector and word
        # lists below, a fresh worker's first query took 2.5 s before this (demo shop), 0.5 s after.
        for tenant_id in tenants:
            for name in ("articles", "tickets"):
                collection = search.collection(tenant_id, name)
                collection.search("warm up", search.encode_query("warm up", name), top_k=1)
        language.warm()
        spelling.warm()
        classifier_for(search.encoder_for("articles"))  # embeds the generic question examples once
        sandbox.warm()  # the macro render workers
        app.state.synced_at = time.monotonic()
        app.state.warm = True
    except Exception:
        log.exception("warm-up failed; /readyz stays false")
        return
    # Each tenant's question head is fitted on its tagged tickets (10 s for the demo shop): after
    # /readyz turns ready, so many tenants never hold back serving, and before an agent's first draft
    # where it can be (a draft that comes first fits its tenant's head itself).
    # Then the articles' sentence vectors, from which a draft picks the passage it quotes (the demo
    # shop's: about 20 s, mostly e5), so drafts do not encode them on first use while customers wait
    # at the same encoder. Newest articles first, as many as the cache holds.
    try:
        # Untagged tickets are tagged and compared through the reasons' example centroids (7 s to embed).
        reason_description_vectors(search.encoder)
        with runtime.session() as session:
            for tenant_id in tenants:
                question_classifier(
                    session, tenant_id=tenant_id, kind=runtime.settings.question_classifier, engine=search
                )
            recent = list(
                session.scalars(select(Article).order_by(Article.id.desc()).limit(SENTENCE_CACHE_SIZE))
            )
        prepare_articles(search, recent)
    except Exception:
        log.exception("warming the drafts' classifiers and article sentences failed; each draft does its own")


def _sync_loop(app: FastAPI, runtime: Runtime, stop: threading.Event) -> None:
    while not stop.wait(runtime.settings.index_sync_seconds):
        if not getattr(app.state, "warm", False):
            continue
        try:
            runtime.search.sync_all()
            app.state.synced_at = time.monotonic()  # /readyz: the index caught up this recently
        except Exception:
            log.exception("index catch-up failed; retrying at the next interval")


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, warm_sync: bool = False
) -> FastAPI:
    """Builds an app; `warm_sync` loads the model before serving (tests), else in the background."""
    settings = settings or get_settings()
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.migrate()
        stop = threading.Event()
        if warm_sync:
            _warm_up(app, runtime)
        else:
            threading.Thread(target=_warm_up, args=(app, runtime), daemon=True, name="warm-up").start()
        syncer = threading.Thread(
            target=_sync_loop, args=(app, runtime, stop), daemon=True, name="index-sync"
        )
        syncer.start()
        try:
            yield
        finally:
            # uvicorn runs this once in-flight requests are done: apply their writes and snapshot once more,
            # so a restart replays nothing. Never beside a sync pass still running (an IVF retrain can be
            # long).
            stop.set()
            syncer.join(timeout=settings.shutdown_grace_seconds)
            if syncer.is_alive():
                log.warning(
                    "index sync still running at shutdown; the next start catches up from the change log"
                )
            elif getattr(app.state, "warm", False):
                try:
                    runtime.search.sync_all()
                except Exception:
                    log.exception("final index sync failed; the next start catches up from the change log")

    app = FastAPI(
        title="Deflect",
        version="0.1.0",
        description="Customer-support deflection: KB suggestions, compliant drafts, semantic duplicates.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.warm = False
    app.state.metrics = Metrics()
    install_error_handlers(app)
    # Inside the metrics layer, so the request latency it records includes the wait for a turn.
    app.add_middleware(
        HeavyRequestGate, limit=settings.heavy_requests_per_worker, waiting=app.state.metrics.heavy_waiting
    )
    install_metrics(app, app.state.metrics)

    install_security(app, settings, runtime)  # last, so it is the outermost layer
    for router in ROUTERS:
        app.include_router(router)
    if STATIC_DIR.exists():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
