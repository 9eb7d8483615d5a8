"""Content gaps: candidates, cluster membership, trend, channel mix, nearest article, order by contacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from kb.events import DeflectionEvent
from runtime import Runtime
from tests.factories import article, load_articles
from tests.insights.helpers import load, ticket

UNTIL = "2026-11-21T00:00:00Z"  # window of 20 days: [11-01, 11-21), halves split at 11-11
GIFT = [
    "Can you gift wrap my present please?",
    "Do you offer gift wrapping for a present?",
    "Is gift wrapping available, it is a present?",
]
ENGRAVE = ["Can you engrave initials on the skillet handle?", "Do you engrave initials on skillets?"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Character trigrams give unrelated short texts cosines of 0.2-0.35: abstain below 0.3 (low score < 0.4).
    return Settings(data_dir=tmp_path / "var", default_abstain_threshold=0.3)


def _event(
    tenant_id: str, session_id: str, kind: str, at: str, query: str, channel: str = "web"
) -> DeflectionEvent:
    return DeflectionEvent(
        tenant_id=tenant_id,
        session_id=session_id,
        kind=kind,
        source="widget",
        channel=channel,
        query=query,
        created_at=datetime.fromisoformat(at.replace("Z", "+00:00")),
    )


def _shop(runtime: Runtime, tid: str) -> None:
    load_articles(
        runtime,
        tid,
        [
            article(),
            article(
                id="kb-refunds",
                title="When will I get my refund?",
                tags=["refund_status"],
                body="Refunds are issued within 5 business days after we receive your return.",
            ),
        ],
    )
    load(
        runtime,
        tid,
        tickets=[
            ticket(
                "g1", "ann@example.com", ["other"], "2026-11-02T09:00:00Z", body=GIFT[0], channel="amazon"
            ),
            ticket("g2", "bob@example.com", ["other"], "2026-11-12T09:00:00Z", body=GIFT[1], channel="email"),
            ticket("g3", "cat@example.com", ["other"], "2026-11-15T09:00:00Z", body=GIFT[2], channel="email"),
            ticket("e1", "dan@example.com", ["product_question"], "2026-11-03T09:00:00Z", body=ENGRAVE[0]),
            # Answered by the tracking article: not a gap.
            ticket(
                "ok",
                "eve@example.com",
                ["tracking"],
                "2026-11-16T09:00:00Z",
                body="Where is my order? Track my parcel with the tracking number.",
            ),
            ticket(
                "old", "fay@example.com", ["other"], "2026-10-20T09:00:00Z", body=GIFT[0]
            ),  # before the window
        ],
    )
    with runtime.session() as session:
        session.add_all(
            [
                # A widget visitor asked about engraving, found nothing useful and asked to contact.
                _event(tid, "s-engrave", "impression", "2026-11-13T10:00:00Z", ENGRAVE[1]),
                _event(tid, "s-engrave", "contact_anyway", "2026-11-13T10:01:00Z", ENGRAVE[1]),
                # Another browsed the gift question and left without contacting.
                _event(tid, "s-gift", "impression", "2026-11-14T10:00:00Z", "gift wrapping for a present"),
                _event(tid, "s-gift", "not_helpful", "2026-11-14T10:00:30Z", "gift wrapping for a present"),
            ]
        )


def test_clusters_membership_trend_and_order(client: TestClient, runtime: Runtime, tenant: Any) -> None:
    _shop(runtime, tenant.tenant_id)
    params = {"until": UNTIL, "days": 20, "distance": 0.6}
    response = client.get("/v1/reports/content-gaps", params=params, headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["candidates"] == 6 and report["unclustered"] == 0
    gift, engrave = report["clusters"]
    assert gift["members"] == ["query:s-gift", "ticket:g1", "ticket:g2", "ticket:g3"]
    assert (gift["size"], gift["contacts"], gift["tickets"], gift["queries"]) == (4, 3, 3, 1)
    assert (gift["earlier"], gift["recent"], gift["trend"]) == (1, 3, 2.0)
    assert gift["channels"] == {"email": 2, "amazon": 1, "web": 1}
    assert gift["why"]["not_helpful"] == 1 and gift["suggested_reason"] == "other"
    assert engrave["members"] == ["query:s-engrave", "ticket:e1"]
    assert (engrave["contacts"], engrave["earlier"], engrave["recent"], engrave["trend"]) == (2, 1, 1, 0.0)
    assert engrave["why"]["contact_anyway"] == 1 and engrave["suggested_reason"] == "product_question"
    assert gift["nearest_article"]["id"] in ("kb-tracking", "kb-refunds")
    # Every gift ticket is a gap by the widget's own search (same cut-off as the widget and drafts).
    assert gift["why"].get("no_suggestion", 0) + gift["why"].get("low_score", 0) >= 3, gift["why"]
    assert len(gift["examples"]) == 3 and all(e["text"] for e in gift["examples"])
    again = client.get("/v1/reports/content-gaps", params=params, headers=tenant.headers("agent")).json()
    assert again["clusters"] == report["clusters"]  # deterministic


def test_a_tighter_threshold_splits_clusters_and_min_size_hides_singletons(
    client: TestClient, runtime: Runtime, tenant: Any
) -> None:
    _shop(runtime, tenant.tenant_id)
    report = client.get(
        "/v1/reports/content-gaps",
        params={"until": UNTIL, "days": 20, "distance": 0.05},
        headers=tenant.headers("agent"),
    ).json()
    assert report["candidates"] == 6 and report["clusters"] == [] and report["unclustered"] == 6


def test_rows_without_meaning_stay_alone_instead_of_breaking_the_clustering() -> None:
    from insights.gaps import _cluster_labels

    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.99, 0.1], [0.0, 1.0]], dtype=np.float32)
    labels = _cluster_labels(vectors, 0.3)
    assert labels[0] == labels[2]
    assert len({labels[0], labels[1], labels[3]}) == 3
