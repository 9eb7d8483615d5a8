"""`deflect bench-mixed`: the mixed load an overloaded shop sees, against real `deflect serve` processes.

Closed-loop clients on 127.0.0.1 mix shoppers' suggestions (70 %) with agents' ticket ingest, drafts and
article writes (10 % each), for a bounded time. The same data and load run once per heavy-request limit
(api/bulkhead.py): with one heavy request per worker at a time, and with no turns (the limit far above
the clients), so the table shows what taking turns changes, measured in the same run on the same machine.
The reliability tests reuse `client_loop` with the hashing encoder (tests/reliability/test_load.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

# Far above any client count: every heavy request runs at once, as before the turns existed.
NO_TURNS = 10_000
# The drafts' question heads are fitted right after /readyz (api/app.py warm-up): not measured.
SETTLE_SECONDS = 15.0

QUERIES = [
    "where is my parcel",
    "refund not received",
    "how do I return shoes",
    "cancel my order please",
    "package arrived damaged",
    "need an invoice with VAT",
    "change delivery address",
    "wo ist mein paket",
]


async def client_loop(
    client: httpx.AsyncClient,
    keys: dict[str, str],
    paths: set[str],
    deadline: float,
    latencies: dict[str, list[float]],
    errors: list[str],
    seed: int,
    agents: list[tuple[str, int]] | None = None,
    batch_size: int = 300,
) -> None:
    rng = random.Random(seed)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        roll = rng.random()
        body: dict[str, object] = {}
        if agents and roll < 0.5:
            # Agent reads that open a second connection (an index catch-up inside the request's session)
            # or resolve contacts: what exhausted the pool and held SQLite's lock in the attack probe.
            ticket, customer = rng.choice(agents)
            choice = rng.random()
            key = keys["agent"]
            if choice < 0.01:
                # A nightly import arriving through the API while agents work: hundreds of tickets in
                # one transaction, each checked against the others for duplicates.
                kind, method, path = "batch", "POST", "/v1/tickets"
                body = {
                    "tickets": [
                        {
                            "id": f"batch-{seed}-{n}-{i}",
                            "channel": "email",
                            "body": f"{rng.choice(QUERIES)} ({i})",
                            "customer": {"email": f"buyer{rng.randint(1, 2000)}@example.com"},
                        }
                        for i in range(batch_size)
                    ]
                }
            elif choice < 0.4:
                kind, method, path = "duplicates", "GET", f"/v1/tickets/{ticket}/duplicates"
            elif choice < 0.7:
                kind, method, path = "history", "GET", f"/v1/customers/{customer}/history"
            elif choice < 0.85:
                kind, method, path = "tickets", "GET", "/v1/tickets?limit=20"
            else:
                kind, method, path, key = "contact", "POST", "/v1/contact-form/suggest", keys["public"]
                body = {
                    "topic": "tracking",
                    "message": rng.choice(QUERIES),
                    "order_id": "#1",
                    "postcode": "00000",
                }
        elif roll < 0.7:
            kind, method, path, key = "suggest", "POST", "/v1/suggest", keys["public"]
            body = {"query": rng.choice(QUERIES), "channel": rng.choice(["web", "amazon"])}
        elif roll < 0.8 and "/v1/tickets" in paths:
            kind, method, path, key = "ingest", "POST", "/v1/tickets", keys["agent"]
            body = {
                "id": f"load-{seed}-{n}",
                "channel": rng.choice(["email", "web"]),
                "body": rng.choice(QUERIES),
                "customer": {"email": f"buyer{rng.randint(1, 200)}@example.com"},
            }
        elif roll < 0.9 and "/v1/drafts" in paths:
            kind, method, path, key = "draft", "POST", "/v1/drafts", keys["agent"]
            body = {"text": rng.choice(QUERIES), "channel": "email", "rewrite": False}
        else:
            kind, method, path, key = "ingest", "POST", "/v1/articles", keys["admin"]
            body = {"id": f"load-{seed}-{n % 5}", "title": f"Load {n}", "body": rng.choice(QUERIES) + f" {n}"}
        started = time.perf_counter()
        try:
            response = await client.request(
                method,
                path,
                json=body if method != "GET" else None,
                headers={"X-API-Key": key},
                # A batch of hundreds of tickets, each checked against the others, legitimately takes long.
                timeout=120 if kind == "batch" else 30,
            )
            if response.status_code >= 400:
                errors.append(f"{kind} {response.status_code} {response.text[:200]}")
        except httpx.HTTPError as exc:
            errors.append(f"{kind} {type(exc).__name__}")
        latencies.setdefault(kind, []).append(time.perf_counter() - started)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[Any], timeout: float, poll: float = 0.1) -> None:
    """Polls /readyz until 200; RuntimeError when the process exits first, TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(poll)
    raise TimeoutError(f"server on {url} not ready after {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def summarise(latencies: dict[str, list[float]], errors: list[str], seconds: float) -> dict[str, Any]:
    """Requests per second, p50/p99 per kind of request, and the errors (a few samples)."""
    kinds: dict[str, dict[str, float]] = {}
    for kind, values in sorted(latencies.items()):
        ordered = sorted(values)
        cuts = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else [ordered[0]] * 99
        kinds[kind] = {
            "requests": len(ordered),
            "p50_ms": round(cuts[49] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1),
        }
    total = sum(len(v) for v in latencies.values())
    return {
        "requests": total,
        "rps": round(total / seconds, 1),
        "errors": len(errors),
        "error_samples": errors[:5],
        "by_kind": kinds,
    }


async def _load(
    url: str,
    keys: dict[str, str],
    paths: set[str],
    clients: int,
    seconds: float,
    latencies: dict[str, list[float]],
    errors: list[str],
) -> float:
    """The closed loop for `seconds`; returns the load average when it started."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        load_at_start = os.getloadavg()[0]
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(client_loop(client, keys, paths, deadline, latencies, errors, i) for i in range(clients))
        )
        return load_at_start


def run_mixed(
    data_dir: Path,
    keys: dict[str, str],
    *,
    workers: int,
    clients: int,
    seconds: float,
    heavy_limits: Sequence[int] = (1, NO_TURNS),
    serve_command: Sequence[str] = (sys.executable, "-c", "from bootstrap import main; main()"),
    env: dict[str, str] | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    ready_timeout: float = 600.0,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """One run per heavy-request limit, each on a fresh copy of `data_dir` (the load writes articles)."""
    runs: dict[str, Any] = {}
    for limit in heavy_limits:
        label = "no turns" if limit >= NO_TURNS else f"{limit} heavy request(s) per worker"
        copy = data_dir.parent / f"{data_dir.name}-run-{limit}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data_dir, copy)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        process_env = dict(env or os.environ)
        process_env.update(
            {
                "DEFLECT_DATA_DIR": str(copy),
                "DEFLECT_HEAVY_REQUESTS_PER_WORKER": str(limit),
                # The load comes from one address and one key: the limits would answer 429 instead.
                "DEFLECT_RATE_LIMIT_PUBLIC_PER_MINUTE": "10000000",
                "DEFLECT_RATE_LIMIT_PER_MINUTE": "10000000",
                "DEFLECT_RATE_LIMIT_IP_PER_MINUTE": "10000000",
                "DEFLECT_LOG_LEVEL": "WARNING",
            }
        )
        log(f"{label}: starting deflect serve --workers {workers}")
        process = subprocess.Popen(
            [*serve_command, "serve", "--port", str(port), "--workers", str(workers)],
            env=process_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_ready(url, process, ready_timeout, poll=0.5)
            time.sleep(settle_seconds)
            paths = set(httpx.get(f"{url}/openapi.json", timeout=10).json()["paths"])
            latencies: dict[str, list[float]] = {}
            errors: list[str] = []
            log(f"{label}: {clients} clients for {seconds:g} s")
            # In a thread of its own: a caller that already runs an event loop (a notebook, a test worker
            # after a browser test) would make asyncio.run() refuse to start.
            with ThreadPoolExecutor(max_workers=1) as pool:
                load_at_start = pool.submit(
                    asyncio.run, _load(url, keys, paths, clients, seconds, latencies, errors)
                ).result()
            runs[label] = {
                "heavy_requests_per_worker": limit,
                "load_average_at_start": round(load_at_start, 2),
                **summarise(latencies, errors, seconds),
            }
        finally:
            _stop(process)
            shutil.rmtree(copy, ignore_errors=True)
    return {"workers": workers, "clients": clients, "seconds": seconds, "runs": runs}


def markdown(result: dict[str, Any]) -> str:
    """The runs side by side, and the ratios against the run without turns."""
    lines = [
        f"# Mixed load: {result['clients']} clients, {result['seconds']:g} s, "
        f"deflect serve --workers {result['workers']}",
        "",
        "| heavy requests | load avg at start | req/s | suggest p50 / p99 ms | draft p50 / p99 ms "
        "| ingest p50 / p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, run in result["runs"].items():
        cells = []
        for kind in ("suggest", "draft", "ingest"):
            row = run["by_kind"].get(kind)
            cells.append(f"{row['p50_ms']:g} / {row['p99_ms']:g}" if row else "-")
        head = f"| {label} | {run['load_average_at_start']} | {run['rps']}"
        lines.append(f"{head} | {' | '.join(cells)} | {run['errors']} |")
    runs = list(result["runs"].values())
    free = next((r for r in runs if r["heavy_requests_per_worker"] >= NO_TURNS), None)
    if free and "suggest" in free["by_kind"]:
        for run in runs:
            if run is free or "suggest" not in run["by_kind"]:
                continue
            ratio = run["by_kind"]["suggest"]["p50_ms"] / free["by_kind"]["suggest"]["p50_ms"]
            lines.append("")
            lines.append(
                f"suggest p50 with {run['heavy_requests_per_worker']} heavy request(s) per worker: "
                f"{ratio:.2f}x the run without turns; req/s {run['rps'] / free['rps']:.2f}x"
            )
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "mixed.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "mixed.md").write_text(markdown(result), encoding="utf-8")
