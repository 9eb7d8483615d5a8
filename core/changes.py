"""Append to the searchable change log inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy.orm import Session

from core.models import ChangeLog


def record_changes(
    session: Session,
    *,
    tenant_id: str,
    collection: str,
    item_ids: Iterable[int],
    op: Literal["upsert", "delete"],
) -> None:
    """Index replicas replay these rows in seq order; the last op per item wins."""
    session.add_all(
        ChangeLog(tenant_id=tenant_id, collection=collection, item_id=item_id, op=op) for item_id in item_ids
    )
