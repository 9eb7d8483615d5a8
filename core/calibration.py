"""Calibrated score thresholds, stored per (tenant, collection, encoder) by `deflect eval calibrate`."""

from __future__ import annotations

import threading
from typing import Any

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Calibration

# Keyed by database too (a process may serve several, as tests do).
# Every suggestion needs its tenant's threshold: read it from the database at most once per
# CACHE_SECONDS per process. Writes in this process drop the entry at once; another replica's
# write is seen within CACHE_SECONDS.
CACHE_SECONDS = 30.0
_cache: TTLCache[tuple[str, str, str, str], float | None] = TTLCache(maxsize=4096, ttl=CACHE_SECONDS)
_cache_lock = threading.Lock()


def calibrated_threshold(
    session: Session, *, tenant_id: str, collection: str, encoder: str, default: float
) -> float:
    """The newest calibrated threshold for this tenant, collection and encoder, else `default`.

    Keyed by encoder because scores from different models live on different scales: a threshold
    calibrated for one is meaningless for another.
    """
    key = (str(session.get_bind().engine.url), tenant_id, collection, encoder)
    with _cache_lock:
        if key in _cache:
            cached = _cache[key]
            return cached if cached is not None else default
    stored = session.scalar(
        select(Calibration.threshold)
        .where(
            Calibration.tenant_id == tenant_id,
            Calibration.collection == collection,
            Calibration.encoder == encoder,
        )
        .order_by(Calibration.id.desc())
        .limit(1)
    )
    value = float(stored) if stored is not None else None
    with _cache_lock:
        _cache[key] = value
    return value if value is not None else default


def store_threshold(
    session: Session,
    *,
    tenant_id: str,
    collection: str,
    encoder: str,
    threshold: float,
    objective: str,
    metrics: dict[str, Any],
    source: str,
) -> Calibration:
    """Adds a calibration row (the newest one wins) and drops this process's cached value."""
    row = Calibration(
        tenant_id=tenant_id,
        collection=collection,
        encoder=encoder,
        threshold=float(threshold),
        objective=objective,
        metrics=metrics,
        source=source,
    )
    session.add(row)
    session.flush()
    with _cache_lock:
        _cache.pop((str(session.get_bind().engine.url), tenant_id, collection, encoder), None)
    return row
