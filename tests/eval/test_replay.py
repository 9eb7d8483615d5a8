"""Replay through the real HTTP endpoints: the live deflection report must match what was replayed."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from eval.datasets import Query
from eval.replay import replay
from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.conftest import TenantKeys

ARTICLES = [
    ArticleCreate(
        id="kb-tracking",
        title="Where is my parcel tracking",
        body="Use the tracking link in the e-mail.",
        locale="en",
        tags=["tracking"],
    ),
    ArticleCreate(
        id="kb-refund",
        title="Refund status and refund timing",
        body="Refunds take five days.",
        locale="en",
        tags=["refund_status"],
    ),
]
QUERIES = [
    Query(id="q1", text="where is my parcel tracking", channel="amazon", relevant=("kb-tracking",)),
    Query(id="q2", text="refund status timing", channel="ebay", relevant=("kb-refund",)),
    Query(id="q3", text="where is my parcel", channel="amazon", relevant=("kb-returns",)),  # no such article
    Query(id="q4", text="refund timing", label="refund_status"),
]


def _load(runtime: Runtime, tenant: TenantKeys) -> None:
    with runtime.session() as session:
        kb_service.import_articles(session, tenant_id=tenant.tenant_id, articles=ARTICLES, file="test")
    runtime.search.catch_up(tenant.tenant_id, "articles")


def test_replay_matches_the_live_report(client: TestClient, runtime: Runtime, tenant: TenantKeys) -> None:
    _load(runtime, tenant)
    result = replay(client, QUERIES, public_key=tenant.public, agent_key=tenant.agent)
    assert result["consistent"], result["mismatches"]
    expected = result["expected"]
    assert expected["sessions"] + expected["abstained_sessions"] == len(QUERIES)
    assert expected["sessions"] == expected["impressions"]
    assert expected["contacted"] + expected["pending"] == expected["sessions"]
    assert expected["contacted"] >= 1  # q3 is answered by no article, so that customer writes in
    assert result["report_total"]["sessions"] == expected["sessions"]


class DroppingClient:
    """Loses the first events batch on the way, as a broken widget would."""

    def __init__(self, inner: TestClient) -> None:
        self.inner = inner
        self.dropped = False

    def post(self, url: str, **kwargs: Any) -> Any:
        if url.endswith("/deflection/events") and not self.dropped:
            self.dropped = True
            return _Accepted()
        return self.inner.post(url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.inner.get(url, **kwargs)


class _Accepted:
    status_code = 202
    text = ""

    @staticmethod
    def json() -> dict[str, int]:
        return {"accepted": 1}


def test_replay_detects_events_the_report_does_not_count(
    client: TestClient, runtime: Runtime, tenant: TenantKeys
) -> None:
    _load(runtime, tenant)
    result = replay(DroppingClient(client), QUERIES[:2], public_key=tenant.public, agent_key=tenant.agent)
    assert not result["consistent"]
    assert any(m.startswith("total.sessions") for m in result["mismatches"])
