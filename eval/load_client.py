"""The HTTP benchmark's load generator, run as its own process (python -m eval.load_client ...).

Real clients never share the server's interpreter: threads issuing requests inside the server's
process competed with it for the GIL, and the benchmark read that contention as the service's.
Prints one JSON object: each request's latency in ms, and the wall time of the whole level.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

CHANNELS = ("amazon", "shopify", None)


def run_level(
    url: str, key: str, queries: list[str], *, clients: int, requests: int, offset: int
) -> dict[str, object]:
    counter = iter(range(offset, offset + requests))
    lock = threading.Lock()
    headers = {"X-API-Key": key}

    def call(client: httpx.Client) -> float:
        with lock:
            i = next(counter)
        # A distinct text each time (the number), so the query-embedding cache answers none of them.
        body = {"query": f"{queries[i % len(queries)]} {i}", "channel": CHANNELS[i % 3]}
        started = time.perf_counter()
        response = client.post(url, json=body, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"suggest answered {response.status_code}: {response.text[:200]}")
        return elapsed

    with httpx.Client(timeout=60.0, limits=httpx.Limits(max_connections=64)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            samples = list(pool.map(lambda _: call(client), range(requests)))
        wall = time.perf_counter() - started
    return {"samples_ms": samples, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--queries", type=Path, required=True, help="a JSON list of query texts")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args()
    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    result = run_level(
        args.url, args.key, queries, clients=args.clients, requests=args.requests, offset=args.offset
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
