"""Calibrated score thresholds, stored per (tenant, collection, encoder) by `deflect eval calibrate`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Calibration


def calibrated_threshold(
    session: Session, *, tenant_id: str, collection: str, encoder: str, default: float
) -> float:
    """The newest calibrated threshold for this tenant, collection and encoder, else `default`.

    Keyed by encoder because scores from different models live on different scales: a threshold
    calibrated for one is meaningless for another.
    """
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
    return float(stored) if stored is not None else default
