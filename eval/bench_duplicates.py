"""Benchmark (not a test): ticket ingest throughput and duplicate-check latency with N past tickets indexed.

Past tickets are synthetic: random unit vectors stored as their embeddings (so building the index
costs no encoding), spread over a year, spread over N/3 customers. New tickets are real demo texts,
encoded by the configured model. Reported per N:

- embed_ms: encoding one new ticket (the model step alone),
- check_ms: the duplicate check for one already-encoded ticket (index search in the window +
  same-customer candidates + scoring), with the engine's filter mask cached (on-demand checks),
- ingest: tickets/s through `ingest_tickets` one ticket per transaction, as `POST /v1/tickets`
  does: encode, resolve identity, write, catch the index up, check duplicates, commit.

Usage: nice python -m eval.bench_duplicates --sizes 10000 100000 [--encoder use+minilm] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from core import keys as key_service
from core.clock import utcnow
from core.settings import ROOT, Settings
from history import service
from history.duplicates import find_duplicates
from history.models import Customer, Ticket
from runtime import Runtime

TENANT = "bench"
BATCH = 5000


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def _fill(runtime: Runtime, n: int, dim: int, encoder: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    now = utcnow()
    customers = max(1, n // 3)
    with runtime.session() as session:
        key_service.get_or_create_tenant(session, tenant_id=TENANT)
        for start in range(0, customers, BATCH):
            session.execute(
                insert(Customer),
                [
                    {
                        "id": i + 1,
                        "tenant_id": TENANT,
                        "name": f"customer {i}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(customers, start + BATCH))
                ],
            )
        for start in range(0, n, BATCH):
            size = min(BATCH, n - start)
            vectors = rng.standard_normal((size, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ages = rng.uniform(0, 365 * 86400, size)
            owners = rng.integers(1, customers + 1, size)
            session.execute(
                insert(Ticket),
                [
                    {
                        "tenant_id": TENANT,
                        "external_id": f"past-{start + i}",
                        "channel": "email",
                        "customer_id": int(owners[i]),
                        "link_kind": "email",
                        "subject": "",
                        "body": f"past ticket {i}",
                        "locale": "en",
                        "tags": ["tracking"],
                        "tag_source": "import",
                        "status": "closed",
                        "created_at": now - timedelta(seconds=float(ages[i])),
                        "contact": {},
                        "content_hash": "bench",
                        "embedding": vectors[i].tobytes(),
                        "embedding_model": encoder,
                    }
                    for i in range(size)
                ],
            )


def _new_tickets(count: int, seed: int, tag: str) -> list[Any]:
    demo = service.parse_tickets(ROOT / "demo" / "tickets.jsonl")
    rng = random.Random(seed)
    now = utcnow()
    return [
        demo[i % len(demo)].model_copy(
            update={
                # A unique suffix per run: the encoder memoises single texts, which would hide the model cost.
                "id": f"new-{i}",
                "body": f"{demo[i % len(demo)].body} ({tag}-{i})",
                "created_at": now - timedelta(minutes=count - i),
                "tags": demo[i % len(demo)].tags,
                "customer": demo[i % len(demo)].customer.model_copy(
                    update={
                        "email": f"buyer{rng.randrange(10**6)}@example.com",
                        "marketplace_customer_id": None,
                    }
                ),
            }
        )
        for i in range(count)
    ]


def bench_size(encoder: str, n: int, queries: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="deflect-bench-") as folder:
        runtime = Runtime(Settings(data_dir=Path(folder), encoder=encoder))  # type: ignore[arg-type]
        try:
            runtime.migrate()
            engine = runtime.search
            started = time.perf_counter()
            _fill(runtime, n, engine.encoder.dim, engine.encoder.name, seed)
            fill_s = time.perf_counter() - started
            started = time.perf_counter()
            collection = engine.rebuild_memory(TENANT, "tickets")
            build_s = time.perf_counter() - started
            new = _new_tickets(queries, seed, f"n{n}")

            embed_ms = []
            for ticket_in in new:
                text = f"{ticket_in.subject}\n{ticket_in.body}"
                t0 = time.perf_counter()
                engine.encoder.encode(
                    [text + " "], kind="passage"
                )  # not the ingested text: no cache hit there
                embed_ms.append((time.perf_counter() - t0) * 1000)

            ingest_s = []
            for ticket_in in new:
                t0 = time.perf_counter()
                with runtime.session() as session:
                    service.ingest_tickets(session, engine, tenant_id=TENANT, tickets=[ticket_in])
                ingest_s.append(time.perf_counter() - t0)

            check_ms = []
            with runtime.session() as session:
                engine.catch_up(TENANT, "tickets")
                stored = [service.get_ticket(session, tenant_id=TENANT, ticket_id=t.id) for t in new]
                for ticket in stored:
                    vector = np.frombuffer(ticket.embedding or b"", dtype=np.float32)
                    t0 = time.perf_counter()
                    find_duplicates(
                        session,
                        engine,
                        tenant_id=TENANT,
                        ticket=ticket,
                        vector=vector,
                        window_days=runtime.settings.duplicate_window_days,
                        threshold=0.45,
                    )
                    check_ms.append((time.perf_counter() - t0) * 1000)
            return {
                "past_tickets": n,
                "index_kind": collection.index.kind,
                "dim": engine.encoder.dim,
                "fill_seconds": round(fill_s, 1),
                "index_build_seconds": round(build_s, 1),
                "embed_ms_p50": round(_percentile(embed_ms, 50), 2),
                "embed_ms_p99": round(_percentile(embed_ms, 99), 2),
                "check_ms_p50": round(_percentile(check_ms, 50), 2),
                "check_ms_p99": round(_percentile(check_ms, 99), 2),
                "check_to_embed_ratio_p50": round(
                    _percentile(check_ms, 50) / max(_percentile(embed_ms, 50), 1e-9), 3
                ),
                "ingest_ms_p50": round(_percentile(ingest_s, 50) * 1000, 2),
                "ingest_ms_p99": round(_percentile(ingest_s, 99) * 1000, 2),
                "ingest_tickets_per_second": round(len(ingest_s) / sum(ingest_s), 2),
                "queries": queries,
                "mean_check_ms": round(statistics.fmean(check_ms), 2),
            }
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--encoder", default="use+minilm")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        result = bench_size(args.encoder, n, args.queries, args.seed)
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(
            json.dumps({"encoder": args.encoder, "results": results}, indent=2), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
