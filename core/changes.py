"""Announce writes that change what is searchable, inside the caller's transaction.

Two ways they reach the search engine, chosen by the session factory:
- in-process indexes (FAISS, NumPy): a row per change in the change log, which every replica replays;
- vectors in the database (pgvector): the changes are kept on the session and written to the search
  tables just before it commits (indexing.pgsearch), so they are visible to every replica at commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy.orm import Session

from core.models import ChangeLog

# Set in a session factory's `info` when the search tables are written in the writer's transaction.
WRITE_THROUGH = "search.write_through"
# The session's changes not yet written: {(tenant_id, collection): {item_id: op}}, the last op winning.
PENDING = "search.pending"

Op = Literal["upsert", "delete"]


def record_changes(
    session: Session,
    *,
    tenant_id: str,
    collection: str,
    item_ids: Iterable[int],
    op: Op,
) -> None:
    """Replicas apply these in order; the last op per item wins."""
    if session.info.get(WRITE_THROUGH):
        pending: dict[tuple[str, str], dict[int, Op]] = session.info.setdefault(PENDING, {})
        ops = pending.setdefault((tenant_id, collection), {})
        for item_id in item_ids:
            ops.pop(item_id, None)  # re-inserted last: apply order follows the latest op
            ops[item_id] = op
        return
    session.add_all(
        ChangeLog(tenant_id=tenant_id, collection=collection, item_id=item_id, op=op) for item_id in item_ids
    )
