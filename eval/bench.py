"""`deflect bench`: speed and memory of the retrieval core, each beside a bare bm25s query.

Measured in one process on the machine at hand (2 shared CPU cores in CI), so every latency is
also reported as a ratio to a bare `bm25s` query over the same texts in the same run: the ratio
survives a noisy neighbour better than milliseconds do.

Scale data is synthetic: support-like sentences built from a fixed vocabulary. Encoding 100k
texts on 2 cores takes minutes, so large indexes reuse real encodings of a base sample, each
copy perturbed with noise and renormalised (same dimension and norm as real vectors; the index
and search cost does not depend on what the vectors mean). Encoder throughput and index build
speed are measured with real encodings.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import insert

from core import keys
from core.settings import Settings, get_settings
from embeddings.collection import IndexedItem
from embeddings.encoder import EncoderLoader, load_encoder
from embeddings.index import FaissIndex
from eval.engines import make_engine
from eval.profile import profile_search
from kb import service as kb_service
from kb.models import Article, ArticleChunk
from kb.schemas import ArticleCreate
from kb.suggest import params_from_settings, search_articles
from runtime import Runtime

if TYPE_CHECKING:
    from core.settings import Settings
    from runtime import Runtime

# Builds the service's ASGI app over a runtime (api.app.create_app); passed in from above, so the
# benchmarks stay below the HTTP layer.
AppFactory = Callable[["Settings", "Runtime"], Any]

Progress = Callable[[str, int, int], None]

_SUBJECTS = [
    "order",
    "parcel",
    "package",
    "refund",
    "return",
    "invoice",
    "delivery",
    "tracking number",
    "lamp",
    "sofa",
    "rug",
    "kettle",
    "towel set",
    "bookshelf",
    "coupon",
    "label",
    "warranty",
    "payment",
    "address",
    "cushion",
    "mirror",
    "chair",
    "table",
    "duvet",
]
_PROBLEMS = [
    "has not arrived",
    "arrived damaged",
    "is missing a part",
    "was the wrong colour",
    "is late",
    "shows delivered but is not here",
    "needs to be cancelled",
    "was charged twice",
    "is broken",
    "cannot be assembled",
    "should go to a new address",
    "is not what I ordered",
]
_ASKS = [
    "what can I do",
    "please help",
    "how do I get a refund",
    "can you send a replacement",
    "where is it",
    "how long will it take",
    "I want to return it",
    "can I get an invoice",
    "who do I contact",
]


def synthetic_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"my {rng.choice(_SUBJECTS)} {rng.choice(_PROBLEMS)}, {rng.choice(_ASKS)}? ref {rng.randrange(10**6)}"
        for _ in range(n)
    ]


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))]

    return {
        "p50_ms": round(pick(50), 3),
        "p95_ms": round(pick(95), 3),
        "p99_ms": round(pick(99), 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "n": len(ordered),
    }


def scale_vectors(base: np.ndarray, n: int, seed: int = 11, noise: float = 0.35) -> np.ndarray:
    """n unit vectors around the rows of `base` (real encodings), so neighbourhoods look realistic."""
    rng = np.random.default_rng(seed)
    rows = base[rng.integers(0, len(base), size=n)]
    noisy = rows + rng.normal(0.0, noise / np.sqrt(base.shape[1]), size=rows.shape).astype(np.float32)
    scaled: np.ndarray = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return scaled


class BareBM25:
    """The yardstick: bm25s over the same texts, whitespace tokens, no typo correction or filters."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self._retriever = bm25s.BM25()
        self._retriever.index([t.lower().split() for t in texts], show_progress=False)

    def query(self, text: str) -> None:
        self._retriever.retrieve([text.lower().split()], k=10, show_progress=False, n_threads=1)


def bench_encoder(encoder: Any, texts: Sequence[str]) -> dict[str, Any]:
    encoder.encode(list(texts[:16]), kind="passage")  # warm-up: lazy weights, thread pools
    started = time.perf_counter()
    encoder.encode(list(texts), kind="passage")
    batched = len(texts) / (time.perf_counter() - started)
    singles: list[float] = []
    for text in texts[:100]:
        started = time.perf_counter()
        encoder.encode([text + " ?"], kind="query")  # a fresh string: the query cache must not answer
        singles.append((time.perf_counter() - started) * 1000)
    return {"encoder": encoder.name, "texts_per_s": round(batched, 1), "single_query": percentiles(singles)}


def bench_build(engine: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Real index build: encode + FAISS add + BM25 index, as the engine's rebuild does."""

    started = time.perf_counter()
    vectors = np.vstack(
        [engine.encoder.encode(list(texts[i : i + 256]), kind="passage") for i in range(0, len(texts), 256)]
    )
    items = [IndexedItem(item_id=i + 1, key=f"kb-{i % 500}", text=t) for i, t in enumerate(texts)]
    collection = engine.new_collection()
    collection.apply(items, vectors, [])
    collection.search("warm", vectors[0], top_k=5)  # builds the keyword index
    seconds = time.perf_counter() - started
    return {
        "chunks": len(texts),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(texts) / seconds, 1),
        # Encoding cost grows with length: a knowledge-base chunk (~470 characters on the devshops)
        # encodes 5-8x slower than these short synthetic texts.
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
        "target_chunks_per_s": 300,
    }


def build_scale_collection(engine: Any, texts: Sequence[str], vectors: np.ndarray, keys: int) -> Any:

    items = [
        IndexedItem(
            item_id=10_000_000 + i,
            key=f"kb-{i % keys}",
            text=t,
            channels=(("amazon",), ("shopify",), ())[i % 3],
        )
        for i, t in enumerate(texts)
    ]
    collection = engine.build(None, items, vectors)  # flat or IVF by size, as the service would
    collection.search("warm up", vectors[0], top_k=5)
    return collection


def bench_in_process(engine: Any, collection: Any, queries: Sequence[str], bare: BareBM25) -> dict[str, Any]:
    """What /v1/suggest does before its ≤5-row article fetch: encode, hybrid search with the channel
    filter inside, group chunks to articles."""

    params = params_from_settings(get_settings())

    def one(q: str, channel: str | None) -> None:
        search_articles(collection, query=q, channel=channel, locale="en", params=params, top_k=5)

    suggest_ms = []
    for i, q in enumerate(queries):
        started = time.perf_counter()
        one(f"{q} {i}", ("amazon", "shopify", None)[i % 3])
        suggest_ms.append((time.perf_counter() - started) * 1000)
    bare_ms = []
    for q in queries:
        started = time.perf_counter()
        bare.query(q)
        bare_ms.append((time.perf_counter() - started) * 1000)
    return {"suggest": percentiles(suggest_ms), "bare_bm25s": percentiles(bare_ms)}


def _profiled_search(collection: Any, params: Any, query: str) -> None:
    search_articles(collection, query=query, channel="amazon", locale="en", params=params, top_k=5)


def bench_ivf(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> dict[str, Any]:
    """Flat (exact) vs IVF: latency and recall@k of IVF against the exact neighbours."""

    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    flat = FaissIndex(vectors.shape[1], "flat")
    flat.add(ids, vectors)
    started = time.perf_counter()
    ivf = FaissIndex(vectors.shape[1], "ivf", train_vectors=vectors[: min(len(vectors), 50_000)])
    ivf.add(ids, vectors)
    ivf_build = time.perf_counter() - started
    exact_ms, approx_ms, overlap = [], [], []
    for row in queries:
        started = time.perf_counter()
        _, exact = flat.search(row.reshape(1, -1), k)
        exact_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _, approx = ivf.search(row.reshape(1, -1), k)
        approx_ms.append((time.perf_counter() - started) * 1000)
        overlap.append(len(set(exact[0]) & set(approx[0])) / k)
    return {
        "vectors": len(vectors),
        "flat": percentiles(exact_ms),
        "ivf": percentiles(approx_ms),
        "ivf_build_seconds": round(ivf_build, 2),
        f"ivf_recall@{k}": round(statistics.fmean(overlap), 4),
        f"ivf_recall_loss@{k}": round(1 - statistics.fmean(overlap), 4),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(
    engine: Any,
    collection: Any,
    n_articles: int,
    queries: Sequence[str],
    concurrency: Sequence[int],
    requests_per_level: int,
    app_factory: AppFactory,
) -> dict[str, Any]:
    """A real uvicorn server on 127.0.0.1 with the scale collection; latency and throughput per client
    count."""

    with tempfile.TemporaryDirectory(prefix="deflect-bench-") as folder:
        # The benchmark measures the service, not its rate limiter.
        unlimited = 10_000_000
        settings = Settings(
            data_dir=Path(folder),
            log_level="WARNING",
            default_abstain_threshold=-1.0,
            rate_limit_public_per_minute=unlimited,
            rate_limit_per_minute=unlimited,
            rate_limit_ip_per_minute=unlimited,
        )
        with closing(Runtime(settings)) as runtime:
            runtime.migrate()
            # Shares the loaded encoder and the scale collection, so the settings' encoder is never loaded.
            runtime.__dict__["search"] = engine
            with runtime.session() as session:
                keys.get_or_create_tenant(session, tenant_id="bench")
                _, raw_key = keys.create_key(session, tenant_id="bench", role="agent")
                kb_service.import_articles(
                    session,
                    tenant_id="bench",
                    file="bench",
                    articles=[
                        ArticleCreate(
                            id=f"kb-{i}",
                            title=f"Help topic {i}",
                            body=f"How we handle case {i}.",
                            locale="en",
                        )
                        for i in range(n_articles)
                    ],
                )
            engine.forget("bench")
            engine._collections[("bench", "articles")] = collection  # the articles' chunks stay unindexed
            collection.last_seq = 1 << 40  # nothing in the change log is newer: no catch-up replaces it
            with serve_in_thread(app_factory(settings, runtime)) as base_url:
                query_file = Path(folder) / "queries.json"
                query_file.write_text(json.dumps(list(queries)), encoding="utf-8")
                warm_up = 10
                _load_level(base_url, raw_key, query_file, clients=1, requests=warm_up, offset=0)
                out: dict[str, Any] = {}
                for n, clients in enumerate(concurrency):
                    offset = warm_up + n * requests_per_level  # every level asks new query texts
                    level = _load_level(base_url, raw_key, query_file, clients, requests_per_level, offset)
                    out[f"clients_{clients}"] = {
                        **percentiles(level["samples_ms"]),
                        "requests_per_s": round(requests_per_level / level["wall_s"], 1),
                    }
                return out


def bench_http_workers(
    engine: Any,
    texts: Sequence[str],
    vectors: np.ndarray,
    keys_count: int,
    queries: Sequence[str],
    concurrency: Sequence[int],
    requests_per_level: int,
    workers: int,
) -> dict[str, Any]:
    """`deflect serve --workers N` on 127.0.0.1, as an operator runs it: the scale KB is written to a
    SQLite database (articles and chunks with their vectors) and snapshotted once, and every worker
    loads it from there at start. The load generator is a separate process, as above."""
    encoder_name = engine.encoder.name
    unlimited = "10000000"
    with tempfile.TemporaryDirectory(prefix="deflect-bench-workers-") as folder:
        environment = {
            "DEFLECT_DATA_DIR": folder,
            "DEFLECT_ENCODER": encoder_name,
            "DEFLECT_ARTICLE_ENCODER": encoder_name,
            "DEFLECT_LOG_LEVEL": "WARNING",
            "DEFLECT_DEFAULT_ABSTAIN_THRESHOLD": "-1.0",
            "DEFLECT_RATE_LIMIT_PUBLIC_PER_MINUTE": unlimited,
            "DEFLECT_RATE_LIMIT_PER_MINUTE": unlimited,
            "DEFLECT_RATE_LIMIT_IP_PER_MINUTE": unlimited,
        }
        # The workers' settings, whatever this shell's DEFLECT_* say: SQLite and FAISS in the temp dir.
        settings = Settings(
            data_dir=Path(folder),
            database_url=None,
            vector_backend="faiss",
            encoder=encoder_name,
            article_encoder=encoder_name,
            log_level="WARNING",
        )
        with closing(Runtime(settings)) as runtime:
            runtime.migrate()
            with runtime.session() as session:
                keys.get_or_create_tenant(session, tenant_id="bench")
                _, raw_key = keys.create_key(session, tenant_id="bench", role="agent")
                session.execute(
                    insert(Article),
                    [
                        {
                            "id": k + 1,
                            "tenant_id": "bench",
                            "external_id": f"kb-{k}",
                            "title": f"Help topic {k}",
                            "body": f"How we handle case {k}.",
                            "locale": "en",
                            "channels": [["amazon"], ["shopify"], []][k % 3],
                            "tags": [],
                            "content_hash": f"{k:064d}",
                        }
                        for k in range(keys_count)
                    ],
                )
                session.execute(
                    insert(ArticleChunk),
                    [
                        {
                            "tenant_id": "bench",
                            "article_id": i % keys_count + 1,
                            "position": i // keys_count,
                            "heading": "",
                            "text": text,
                            "content_hash": f"{i:064d}",
                            "embedding": vectors[i].astype(np.float32).tobytes(),
                            "embedding_model": encoder_name,
                        }
                        for i, text in enumerate(texts)
                    ],
                )
            # Builds from the stored vectors (nothing is encoded) and writes the snapshot the workers load.
            runtime.search.rebuild("bench", "articles")
        port = _free_port()
        # Only the benchmark's settings: none of this shell's DEFLECT_* (a database URL, thread counts).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("DEFLECT_")}
        server_log = Path(folder) / "serve.log"
        server = subprocess.Popen(
            [sys.executable, "-c", "from bootstrap import main; main()", "serve", "--workers", str(workers)]
            + ["--host", "127.0.0.1", "--port", str(port)],
            env={**inherited, **environment},
            stdout=subprocess.DEVNULL,
            stderr=server_log.open("w", encoding="utf-8"),
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_every_worker_is_ready(server, base_url, workers, server_log)
            query_file = Path(folder) / "queries.json"
            query_file.write_text(json.dumps(list(queries)), encoding="utf-8")
            warm_up = 10 * workers
            _load_level(base_url, raw_key, query_file, clients=workers, requests=warm_up, offset=0)
            out: dict[str, Any] = {"workers": workers}
            for n, clients in enumerate(concurrency):
                offset = warm_up + n * requests_per_level
                level = _load_level(base_url, raw_key, query_file, clients, requests_per_level, offset)
                out[f"clients_{clients}"] = {
                    **percentiles(level["samples_ms"]),
                    "requests_per_s": round(requests_per_level / level["wall_s"], 1),
                }
            return out
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_every_worker_is_ready(
    server: subprocess.Popen[bytes], base_url: str, workers: int, server_log: Path
) -> None:
    """/readyz answers from whichever worker accepts the connection: ready only after many fresh
    connections in a row say so (each worker loads the models and the snapshot on its own)."""
    import httpx

    deadline = time.monotonic() + 600
    in_a_row = 0
    while in_a_row < 10 * workers:
        if server.poll() is not None:
            raise RuntimeError(f"deflect serve exited: {server_log.read_text(encoding='utf-8')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("deflect serve --workers was not ready within 600 s")
        try:
            ready = httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            ready = False
        in_a_row = in_a_row + 1 if ready else 0
        if not ready:
            time.sleep(0.5)


def _load_level(
    base_url: str, key: str, query_file: Path, clients: int, requests: int, offset: int
) -> dict[str, Any]:
    """One concurrency level from a separate client process (eval/load_client.py)."""
    command = [sys.executable, "-m", "eval.load_client", "--url", f"{base_url}/v1/suggest", "--key", key]
    command += ["--queries", str(query_file), "--clients", str(clients), "--requests", str(requests)]
    command += ["--offset", str(offset)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load client failed: {done.stderr[-2000:]}")
    level: dict[str, Any] = json.loads(done.stdout)
    return level


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """A real uvicorn server on a free 127.0.0.1 port for the duration of the block; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 60
        while not server.started:
            if time.time() > deadline or not thread.is_alive():
                raise RuntimeError("the evaluation server did not start within 60 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def run_bench(
    *,
    encoder_name: str | None = None,
    encoders: EncoderLoader = load_encoder,
    sizes: Sequence[int] = (10_000, 100_000),
    requests_per_level: int = 200,
    concurrency: Sequence[int] = (1, 8, 32),
    app_factory: AppFactory | None = None,
    log: Callable[[str], None] = lambda _: None,
    profile: bool = True,
    workers: int = 0,
) -> dict[str, Any]:
    """Every benchmark; the HTTP ones run only when an `app_factory` builds the service's app, and
    `deflect serve --workers N` beside the one-process server when `workers` > 1."""

    engine = make_engine(encoder_name, encoders=encoders)
    results: dict[str, Any] = {
        "encoder": engine.encoder.name,
        "sizes": {},
        "load_before": round(os.getloadavg()[0], 2),
    }
    base_texts = synthetic_texts(2000, seed=1)
    log("encoder throughput")
    results["encoder_throughput"] = bench_encoder(engine.encoder, base_texts[:1000])
    log("index build")
    results["index_build"] = bench_build(engine, base_texts)
    # The knowledge base has an encoder of its own (routed: USE, MiniLM and e5 side by side), so its
    # build rate is not the tickets' one.
    article_engine = make_engine(encoder_name, articles=True, encoders=encoders)
    log(f"article index build ({article_engine.encoder.name})")
    results["article_index_build"] = {
        "encoder": article_engine.encoder.name,
        **bench_build(article_engine, base_texts[:500]),
    }
    base_vectors = np.vstack(
        [
            engine.encoder.encode(base_texts[i : i + 256], kind="passage")
            for i in range(0, len(base_texts), 256)
        ]
    )
    queries = synthetic_texts(300, seed=99)
    query_vectors = engine.encoder.encode(queries[:100], kind="query")
    for size in sizes:
        log(f"{size} chunks")
        texts = synthetic_texts(size, seed=size)
        vectors = scale_vectors(base_vectors, size)
        before = rss_bytes()
        collection = build_scale_collection(engine, texts, vectors, keys=max(1, size // 20))
        grown = rss_bytes() - before
        bare = BareBM25(texts)
        entry: dict[str, Any] = {"rss_bytes_per_chunk": round(grown / size, 1)}
        entry["in_process"] = bench_in_process(engine, collection, queries, bare)
        if profile:
            log(f"{size} chunks: profile, 1 and 32 clients")
            search = partial(_profiled_search, collection, params_from_settings(get_settings()))
            entry["profile"] = [profile_search(search, queries[:64], clients=n) for n in (1, 32)]
        entry["ivf"] = bench_ivf(vectors, query_vectors)
        if app_factory is not None:
            # Texts no earlier measure (or size) has encoded: the query cache must not answer them.
            http_queries = synthetic_texts(1000, seed=4242 + size)
            entry["http"] = bench_http(
                engine,
                collection,
                max(1, size // 20),
                http_queries,
                concurrency,
                requests_per_level,
                app_factory,
            )
            if workers > 1:
                log(f"{size} chunks: deflect serve --workers {workers}")
                entry["http_workers"] = bench_http_workers(
                    engine,
                    texts,
                    vectors,
                    max(1, size // 20),
                    queries,
                    concurrency,
                    requests_per_level,
                    workers,
                )
        bare_p50 = entry["in_process"]["bare_bm25s"]["p50_ms"] or 1e-9
        entry["ratios_to_bare_bm25s_p50"] = {
            "suggest_in_process_p50": round(entry["in_process"]["suggest"]["p50_ms"] / bare_p50, 2),
            "suggest_in_process_p99": round(entry["in_process"]["suggest"]["p99_ms"] / bare_p50, 2),
            **(
                {f"http_{k}_p50": round(v["p50_ms"] / bare_p50, 2) for k, v in entry["http"].items()}
                if app_factory is not None
                else {}
            ),
            **(
                {
                    f"http_workers_{k}_p50": round(v["p50_ms"] / bare_p50, 2)
                    for k, v in entry["http_workers"].items()
                    if k.startswith("clients_")
                }
                if "http_workers" in entry
                else {}
            ),
        }
        results["sizes"][str(size)] = entry
        del collection, bare
    results["targets"] = {
        "http_suggest_p50_ms": 30,
        "http_suggest_p99_ms": 120,
        "index_build_chunks_per_s": 300,
    }
    results["load_after"] = round(os.getloadavg()[0], 2)
    return results


def markdown(results: dict[str, Any]) -> str:
    enc = results["encoder_throughput"]
    build = results["index_build"]
    articles = results["article_index_build"]
    lines = [
        f"# Deflect benchmark ({results['encoder']})",
        "",
        f"- encoder: {enc['texts_per_s']} texts/s batched; single query p50 {enc['single_query']['p50_ms']} "
        f"ms",
        f"- ticket index build ({results['encoder']}: encode + FAISS + BM25): {build['chunks_per_s']} "
        f"chunks/s of {build['mean_chars']} characters (target ≥ 300)",
        f"- article index build ({articles['encoder']}): {articles['chunks_per_s']} chunks/s of "
        f"{articles['mean_chars']} characters",
        "",
        f"- machine load (1-min load average, {os.cpu_count()} cores): {results.get('load_before', '–')} "
        f"at the start, {results.get('load_after', '–')} at the end",
        "",
        "The floor is what a suggestion cannot avoid: encoding the query, the ANN search and the BM25",
        "search, called directly in one process. HTTP rows give their p50 as a multiple of it, and their",
        "throughput as a multiple of the 1-client rate (the target: >= 1.5x at 8 and 32 clients).",
        "",
        "| chunks | what | p50 ms | p95 ms | p99 ms | req/s | × floor p50 | × 1-client req/s "
        "| × bare bm25s p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, entry in results["sizes"].items():
        bare = entry["in_process"]["bare_bm25s"]
        floor = entry["in_process"]["suggest"]
        rows: list[tuple[str, dict[str, Any], float | None, float | None]] = [
            ("bare bm25s query", bare, None, None),
            ("floor: encode + ANN + BM25, direct", floor, None, None),
            ("FAISS flat top-10", entry["ivf"]["flat"], None, None),
            ("FAISS IVF top-10", entry["ivf"]["ivf"], None, None),
        ]
        # Each server's throughput is compared with its own 1-client rate.
        served: list[tuple[str, dict[str, Any]]] = [("HTTP suggest, 1 process", entry.get("http", {}))]
        pool = entry.get("http_workers", {})
        if pool:
            served.append((f"HTTP suggest, {pool['workers']} workers", pool))
        for label, http in served:
            single_rps = http.get("clients_1", {}).get("requests_per_s")
            rows += [
                (f"{label}, {k.split('_')[1]} clients", v, v.get("requests_per_s"), single_rps)
                for k, v in http.items()
                if k.startswith("clients_")
            ]
        for name, stats, rps, single_rps in rows:
            to_bare = stats["p50_ms"] / bare["p50_ms"] if bare["p50_ms"] else float("nan")
            to_floor = f"{stats['p50_ms'] / floor['p50_ms']:.2f}" if floor["p50_ms"] else "–"
            to_single = f"{rps / single_rps:.2f}" if rps and single_rps else "–"
            lines.append(
                f"| {int(size):,} | {name} | {stats['p50_ms']:.2f} | {stats['p95_ms']:.2f} | "
                f"{stats['p99_ms']:.2f} | {rps if rps is not None else '–'} | {to_floor} | {to_single} | "
                f"{to_bare:.1f} |"
            )
    lines.append("")
    for size, entry in results["sizes"].items():
        lines.append(
            f"- {int(size):,} chunks: RSS {entry['rss_bytes_per_chunk']:.0f} bytes/chunk; IVF recall@10 "
            f"{entry['ivf']['ivf_recall@10']} (loss {entry['ivf']['ivf_recall_loss@10']}), IVF build "
            f"{entry['ivf']['ivf_build_seconds']} s"
        )
    for size, entry in results["sizes"].items():
        for run in entry.get("profile", []):
            lines.append("")
            lines.append(
                f"Where the time goes, {int(size):,} chunks, {run['clients']} client(s), "
                f"{run['queries']} article searches (yappi, share of the total):"
            )
            lines.append("")
            lines.append("| component | CPU % | wall % |")
            lines.append("|---|---|---|")
            for component in dict.fromkeys([*run["cpu_pct"], *run["wall_pct"]]):
                cpu, wall = run["cpu_pct"].get(component, 0.0), run["wall_pct"].get(component, 0.0)
                lines.append(f"| {component} | {cpu} | {wall} |")
    return "\n".join(lines) + "\n"
