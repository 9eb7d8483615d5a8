"""Reports computed ahead of time by `deflect worker` and served while fresh.

The content-gap report scores every recent ticket and session through the widget's own search and
clusters the misses: seconds for a busy tenant, too long for a page load on every visit and wasted
when ten agents open the reports page. A worker computes the default view hourly; the API serves it
while it is younger than `report_snapshot_max_age_seconds`, and computes live for any other window
or when asked to (`live=true`) or when no fresh snapshot exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.models import ReportSnapshot
from insights import gaps
from insights.gaps import ContentGapReport

if TYPE_CHECKING:
    from indexing.engine import SearchEngine

CONTENT_GAPS = "content-gaps"


@dataclass(frozen=True)
class GapView:
    """The content-gap query the reports page sends; only the default is precomputed."""

    days: int = 30
    until: datetime | None = None
    distance: float = gaps.DEFAULT_DISTANCE
    min_size: int = 2
    limit: int = 20

    @property
    def is_default(self) -> bool:
        return self == GapView()


def _row(session: Session, tenant_id: str, name: str) -> ReportSnapshot | None:
    return session.scalar(
        select(ReportSnapshot).where(ReportSnapshot.tenant_id == tenant_id, ReportSnapshot.name == name)
    )


def save(session: Session, *, tenant_id: str, name: str, report: ContentGapReport) -> None:
    row = _row(session, tenant_id, name)
    if row is None:
        row = ReportSnapshot(tenant_id=tenant_id, name=name)
        session.add(row)
    row.body = report.model_dump(mode="json")
    row.computed_at = utcnow()


def fresh(
    session: Session, *, tenant_id: str, name: str, max_age: timedelta
) -> tuple[ContentGapReport, datetime] | None:
    row = _row(session, tenant_id, name)
    if row is None or utcnow() - row.computed_at > max_age:
        return None
    return ContentGapReport.model_validate(row.body), row.computed_at


def precompute_content_gaps(
    session: Session, engine: SearchEngine, *, tenant_id: str, threshold: float | None
) -> ContentGapReport:
    report = gaps.content_gaps(session, engine, tenant_id=tenant_id, threshold=threshold)
    save(session, tenant_id=tenant_id, name=CONTENT_GAPS, report=report)
    return report


def content_gaps_view(
    session: Session,
    engine: SearchEngine,
    *,
    tenant_id: str,
    threshold: float | None,
    view: GapView,
    max_age: timedelta,
    live: bool = False,
) -> tuple[ContentGapReport, datetime | None]:
    """The report and when it was computed (None: just now, live)."""
    if view.is_default and not live and max_age > timedelta(0):
        found = fresh(session, tenant_id=tenant_id, name=CONTENT_GAPS, max_age=max_age)
        if found is not None:
            return found
    report = gaps.content_gaps(
        session,
        engine,
        tenant_id=tenant_id,
        threshold=threshold,
        days=view.days,
        until=view.until,
        distance=view.distance,
        min_size=view.min_size,
        limit=view.limit,
    )
    return report, None
