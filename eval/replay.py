"""Live deflection cross-check: replay labelled queries through the HTTP widget and events API,
then check that the live deflection report counts exactly what the replay did.

Each query is one widget session of a simulated customer with a fixed, documented behaviour:
- suggestions shown (not abstained): an `impression`; when an answering article is among the
  first `read_top` suggestions the customer clicks it and votes `helpful` and goes away; otherwise
  they press `contact_anyway` and `submitted` a ticket;
- abstained (nothing shown): no impression, they `submitted` a ticket.
The report counts only sessions that saw suggestions; sessions without a ticket stay `pending`
until the deflection window closes, so the check compares `pending` (deflected-to-be), not a rate.
Run it against a tenant that receives no other traffic during the replay.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from eval.datasets import Query

COUNTED = (
    "sessions",
    "contacted",
    "pending",
    "impressions",
    "clicks",
    "helpful",
    "contact_anyway",
    "submitted",
)


class HttpClient(Protocol):
    def post(self, url: str, *, json: Any = ..., headers: Any = ...) -> Any: ...

    def get(self, url: str, *, params: Any = ..., headers: Any = ...) -> Any: ...


def _ok(response: Any, what: str) -> Any:
    if response.status_code == 429:
        raise RuntimeError(
            f"{what} was rate-limited: replay against a tenant/server with higher limits "
            f"(the self-hosted mode lifts them)"
        )
    if response.status_code >= 300:
        raise RuntimeError(f"{what} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def replay(
    client: HttpClient,
    queries: Sequence[Query],
    *,
    public_key: str,
    agent_key: str,
    base_url: str = "",
    read_top: int = 3,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Drives the widget endpoints, reads the live report back and compares, total and per channel."""
    started = datetime.now(UTC) - timedelta(seconds=1)
    public = {"X-API-Key": public_key}
    expected: Counter[str] = Counter()
    per_channel: dict[str, Counter[str]] = {}
    run_id = uuid.uuid4().hex[:10]
    for i, query in enumerate(queries):
        session_id = f"replay-{run_id}-{i}"
        body: dict[str, Any] = {"query": query.text, "top_k": 5}
        if query.channel:
            body["channel"] = query.channel
        if query.locale:
            body["locale"] = query.locale
        result = _ok(client.post(f"{base_url}/v1/suggest", json=body, headers=public), "suggest")
        shown = [s["id"] for s in result["suggestions"]] if not result["abstained"] else []
        answer = next(
            (
                a
                for a in shown[:read_top]
                if a in set(query.relevant)
                or (
                    query.label
                    and query.label in next(s["tags"] for s in result["suggestions"] if s["id"] == a)
                )
            ),
            None,
        )
        base = {
            "session_id": session_id,
            "source": "widget",
            "channel": query.channel,
            "locale": query.locale,
            "query": query.text[:2000],
        }
        events: list[dict[str, Any]] = []
        if shown:
            events.append({**base, "kind": "impression", "article_id": shown[0]})
            if answer is not None:
                events += [
                    {**base, "kind": "click", "article_id": answer},
                    {**base, "kind": "helpful", "article_id": answer},
                ]
            else:
                events += [{**base, "kind": "contact_anyway"}, {**base, "kind": "submitted"}]
        else:
            events.append({**base, "kind": "submitted"})
        _ok(
            client.post(f"{base_url}/v1/deflection/events", json={"events": events}, headers=public), "events"
        )
        if shown:
            for counter in (expected, per_channel.setdefault(query.channel or "(none)", Counter())):
                counter["sessions"] += 1
                counter["contacted" if answer is None else "pending"] += 1
                for event in events:
                    key = {"impression": "impressions", "click": "clicks"}.get(event["kind"], event["kind"])
                    counter[key] += 1
        expected["abstained_sessions"] += 0 if shown else 1
        if progress and (i % 20 == 19 or i == len(queries) - 1):
            progress("replaying", i + 1, len(queries))
    report = _ok(
        client.get(
            f"{base_url}/v1/reports/deflection",
            params={"since": started.isoformat(), "bucket": "day"},
            headers={"X-API-Key": agent_key},
        ),
        "deflection report",
    )
    live_total = {k: report["total"].get(k, 0) for k in COUNTED}
    mismatches = [
        f"total.{k}: replay {expected[k]} vs report {live_total[k]}"
        for k in COUNTED
        if expected[k] != live_total[k]
    ]
    live_channels = {row["key"]: row for row in report["by_channel"]}
    for channel, counter in per_channel.items():
        row = live_channels.get(channel, {})
        mismatches += [
            f"channel {channel}.{k}: replay {counter[k]} vs report {row.get(k, 0)}"
            for k in COUNTED
            if counter[k] != row.get(k, 0)
        ]
    extra = set(live_channels) - set(per_channel)
    mismatches += [f"channel {c}: in the report but not replayed" for c in sorted(extra)]
    return {
        "queries": len(queries),
        "expected": {k: expected[k] for k in (*COUNTED, "abstained_sessions")},
        "report_total": live_total,
        "window_hours": report.get("window_hours"),
        "replayed_deflection_rate": (expected["pending"] / expected["sessions"])
        if expected["sessions"]
        else None,
        "consistent": not mismatches,
        "mismatches": mismatches,
    }
