"""The scale benchmark (eval/bench_scale.py) on a real PostgreSQL + pgvector; slow, sized by
DEFLECT_BENCH_TICKETS / DEFLECT_BENCH_CHUNKS (default 20 000 / 5 000). Prints the table."""

from __future__ import annotations

import json
import os

import pytest

from eval.bench_scale import markdown, run_scale_bench

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_scale_benchmark(pgvector_url: str) -> None:
    tickets = int(os.environ.get("DEFLECT_BENCH_TICKETS", "20000"))
    chunks = int(os.environ.get("DEFLECT_BENCH_CHUNKS", "5000"))
    result = run_scale_bench(pgvector_url, tickets=tickets, chunks=chunks, queries=100)
    print(json.dumps(result, indent=2))
    print(markdown(result))
    assert result["pgvector_duplicate_plan_uses_hnsw"] or tickets < 20_000
    assert result["pgvector_duplicate_check"]["recall_at_10"] >= 0.9
    assert result["pgvector_suggest_dense"]["recall_at_10"] >= 0.9
