"""Two replicas with DEFLECT_REDIS_URL share one rate budget in a real Redis (tests/redis_server.py);
without it each replica counts its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from runtime import Runtime
from tests.support.encoders import hashing_encoders

pytestmark = pytest.mark.redis

PER_MINUTE = 12


def _allowed(settings: Settings, runtime: Runtime, other: Settings, other_runtime: Runtime) -> int:
    """Requests the two replicas let through together, alternating, before both refuse."""
    allowed = 0
    with (
        TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as first,
        TestClient(create_app(other, runtime=other_runtime, warm_sync=True)) as second,
    ):
        for _ in range(3 * PER_MINUTE):
            for client in (first, second):
                status = client.get("/v1/tickets").status_code  # no key: 401, but it counts for the address
                assert status in (401, 429)
                allowed += status == 401
    return allowed


def _replicas(tmp_path: Path, redis_url: str | None) -> tuple[Settings, Runtime, Settings, Runtime]:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    made = []
    for name in ("one", "two"):
        settings = Settings(
            data_dir=tmp_path / name,
            database_url=database,
            rate_limit_ip_per_minute=PER_MINUTE,
            redis_url=redis_url,
        )
        made += [settings, Runtime(settings, encoders=hashing_encoders)]
    return made[0], made[1], made[2], made[3]  # type: ignore[return-value]


def test_two_replicas_share_one_budget_in_redis(tmp_path: Path, redis_url: str) -> None:
    one, one_rt, two, two_rt = _replicas(tmp_path, redis_url)
    assert _allowed(one, one_rt, two, two_rt) == PER_MINUTE


def test_without_redis_each_replica_counts_its_own(tmp_path: Path) -> None:
    one, one_rt, two, two_rt = _replicas(tmp_path, None)
    assert _allowed(one, one_rt, two, two_rt) == 2 * PER_MINUTE
