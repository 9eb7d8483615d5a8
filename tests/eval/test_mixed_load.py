"""`deflect bench-mixed`'s runner against real `deflect serve` processes (hashing encoder, a few seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.settings import Settings
from eval.mixed_load import NO_TURNS, QUERIES, markdown, run_mixed
from kb import service as kb_service
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import deflect_env
from tests.support.encoders import hashing_encoders


def test_the_same_load_runs_with_and_without_turns_and_reports_each(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime(Settings(data_dir=data_dir), encoders=hashing_encoders)
    runtime.migrate()
    tenant = make_tenant(runtime, "mixed")
    with runtime.session() as session:
        kb_service.import_articles(
            session,
            tenant_id="mixed",
            file="seed",
            articles=[
                ArticleCreate(id=f"kb-{i}", title=q.capitalize(), body=f"{q}. Help number {i}.")
                for i, q in enumerate(QUERIES)
            ],
        )
    runtime.close()
    keys = {"public": tenant.public, "agent": tenant.agent, "admin": tenant.admin}

    result = run_mixed(
        data_dir,
        keys,
        workers=1,
        clients=4,
        seconds=2,
        serve_command=(sys.executable, "-m", "tests.support.serve"),
        env=deflect_env(data_dir),
        settle_seconds=0,
        ready_timeout=60,
    )

    runs = result["runs"]
    assert [run["heavy_requests_per_worker"] for run in runs.values()] == [1, NO_TURNS]
    for run in runs.values():
        assert run["errors"] == 0, run["error_samples"]
        assert {"suggest", "draft", "ingest"} <= set(run["by_kind"])
        assert run["requests"] == sum(k["requests"] for k in run["by_kind"].values())
    # Each run had its own copy of the data: the original is untouched and no copy is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert "x the run without turns" in markdown(result)
