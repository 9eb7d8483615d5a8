"""The benchmark's pieces on a tiny scale with the hashing encoder; the real run is `slow`."""

from __future__ import annotations

import os

import numpy as np
import pytest

from api.app import create_app
from eval import bench
from tests.support.encoders import hashing_encoders


def test_percentiles_nearest_rank() -> None:
    stats = bench.percentiles([float(i) for i in range(1, 101)])
    assert (stats["p50_ms"], stats["p95_ms"], stats["p99_ms"]) == (50.0, 95.0, 99.0)


def test_scale_vectors_are_unit_and_near_their_base() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    vectors = bench.scale_vectors(base, 500)
    assert vectors.shape == (500, 64)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors @ base.T).max(axis=1).min() > 0.8


def test_small_bench_end_to_end_with_http() -> None:
    results = bench.run_bench(
        encoder_name="hashing",
        encoders=hashing_encoders,
        sizes=(1000,),
        requests_per_level=20,
        concurrency=(1, 4),
        app_factory=lambda settings, runtime: create_app(settings, runtime=runtime),
    )
    entry = results["sizes"]["1000"]
    assert entry["http"]["clients_4"]["n"] == 20 and entry["http"]["clients_4"]["requests_per_s"] > 0
    assert 0.0 <= entry["ivf"]["ivf_recall@10"] <= 1.0
    assert entry["ratios_to_bare_bm25s_p50"]["suggest_in_process_p50"] > 0
    assert results["index_build"]["chunks_per_s"] > 0
    assert results["article_index_build"]["chunks"] == 500
    assert "- article index build (hashing):" in bench.markdown(results)
    assert "| 1,000 | HTTP suggest, 1 process, 4 clients |" in bench.markdown(results)
    assert "http_workers" not in entry  # worker processes cannot load injected encoders
    # The profile splits the time of the same searches into components, in shares that add up.
    one, many = entry["profile"]
    assert (one["clients"], many["clients"]) == (1, 32)
    for run in (one, many):
        assert abs(sum(run["cpu_pct"].values()) - 100) < 1 and abs(sum(run["wall_pct"].values()) - 100) < 1
        assert run["cpu_pct"].get("ranking and fusion", 0) > 0
    assert "Where the time goes, 1,000 chunks, 32 client(s)" in bench.markdown(results)


def test_profile_components_follow_module_paths() -> None:
    from eval.profile import component_of

    assert component_of("/x/site-packages/torch/nn/modules/linear.py", "forward") == "query encoding"
    assert component_of("/x/site-packages/faiss/swigfaiss.py", "search") == "vector search"
    assert component_of("/x/site-packages/bm25s/__init__.py", "retrieve") == "keyword side"
    assert component_of("/usr/lib/python3.11/threading.py", "wait") == "lock waits"
    assert component_of("/work/kb/ranking.py", "rank") == "ranking and fusion"
    assert component_of("/usr/lib/python3.11/json/decoder.py", "decode") == "other"


@pytest.mark.slow
def test_full_benchmark_meets_the_latency_targets() -> None:
    workers = max(2, os.cpu_count() or 2)
    results = bench.run_bench(
        sizes=(100_000,),
        requests_per_level=200,
        app_factory=lambda settings, runtime: create_app(settings, runtime=runtime),
        workers=workers,
    )
    entry = results["sizes"]["100000"]
    http, floor = entry["http_workers"], entry["in_process"]["suggest"]
    assert http["workers"] == workers
    # Ratios from one run (absolute times drift with the machine's load; ratios do not).
    assert http["clients_1"]["p50_ms"] <= 1.5 * floor["p50_ms"]
    for clients in ("clients_8", "clients_32"):
        assert http[clients]["requests_per_s"] >= 1.5 * http["clients_1"]["requests_per_s"]
    assert results["index_build"]["chunks_per_s"] >= 300
