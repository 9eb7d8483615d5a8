"""`deflect demo` gives the reports page four weeks of generated sessions, marked as demo data."""

from __future__ import annotations

from sqlalchemy import select

from cli.demo import load_demo_deflection
from kb.deflection import deflection_report
from kb.events import DEMO_SESSION_PREFIX, DeflectionEvent
from runtime import Runtime
from tests.conftest import TenantKeys
from tests.factories import article, load_articles


def test_demo_history_has_closed_and_open_sessions_and_is_added_once(
    runtime: Runtime, tenant: TenantKeys
) -> None:
    load_articles(runtime, tenant.tenant_id, [article(), article(id="kb-returns", tags=["return_label"])])
    added = load_demo_deflection(runtime, tenant.tenant_id)
    assert added > 500
    assert load_demo_deflection(runtime, tenant.tenant_id) == 0
    with runtime.session() as session:
        ids = set(
            session.scalars(
                select(DeflectionEvent.session_id).where(DeflectionEvent.tenant_id == tenant.tenant_id)
            )
        )
        assert ids and all(i.startswith(DEMO_SESSION_PREFIX) for i in ids)
        report = deflection_report(session, tenant_id=tenant.tenant_id, window_hours=72)
    total = report.total
    assert total.closed > 300 and total.pending > 10 and total.contacted > 50
    assert total.deflection_rate is not None and 0.5 < total.deflection_rate < 0.8
    assert {row.key for row in report.by_topic} >= {"tracking", "return_label", "refund_status"}
    assert len(report.over_time) >= 27
