"""`deflect bench-mixed`'s runner against real `deflect serve` processes (hashing encoder, a few seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

from eval.mixed_load import NO_TURNS, markdown, run_mixed
from tests.reliability.procs import deflect_env, seed_load_shop


def test_the_same_load_runs_with_and_without_turns_and_reports_each(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = seed_load_shop(data_dir, "mixed")

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
