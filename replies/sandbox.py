"""Renders untrusted macro templates within hard bounds: time, memory, output size and number size.

A tenant admin writes macros, so a template is untrusted code. Jinja's sandbox stops attribute tricks
but not work: nested loops once ran 6.8 s of CPU while holding the GIL (every request of the process
slowed from 21 ms to 0.9 s), and `"x" * 10**9` allocates before anything can look at it. So:

- rendering runs in a small pool of worker processes (pebble); a render over its time budget is
  killed with its worker, which the pool replaces, and the server's own threads never wait on it;
- each worker's address space is capped, so a huge allocation fails there as a MemoryError;
- the environment refuses arithmetic whose result would be huge before computing it, and `range`
  is small;
- output is read chunk by chunk and abandoned at the size limit.

This module imports nothing of the service but Jinja, so a worker starts in a fraction of a second.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import re
import resource
import threading
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pebble import ProcessExpired, ProcessPool

log = logging.getLogger(__name__)

MAX_RENDER_SECONDS = 1.0
MAX_OUTPUT_CHARS = 10_000
# Sequences built by `*` or `+` inside a template; a bit more than the output may hold.
MAX_SEQUENCE_ITEMS = 4 * MAX_OUTPUT_CHARS
# Facts are prices and counts: 128 bits is far beyond any, and far below a slow multiplication.
MAX_INT_BITS = 128
MAX_RANGE = 1_000
WORKER_MEMORY_BYTES = 256 << 20
WORKERS = 2

_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, refusing `*`, `**` and `+` whose result would be huge, before computing it."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_int(left) and _is_int(right):
            if right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_INT_BITS:
                raise SecurityError(f"{left} ** {right} is too large a number for a macro")
        elif operator == "**" and isinstance(right, (int, float)) and abs(right) > 10_000:
            raise SecurityError("exponent too large for a macro")
        elif operator == "*":
            if _is_int(left) and _is_int(right):
                if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                    raise SecurityError("product too large a number for a macro")
            else:
                sequence, times = (left, right) if _is_int(right) else (right, left)
                if (
                    _is_int(times)
                    and hasattr(sequence, "__len__")
                    and len(sequence) * times > MAX_SEQUENCE_ITEMS
                ):
                    raise SecurityError(f"a repetition of {len(sequence)} x {times} is too long for a macro")
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            if len(left) + len(right) > MAX_SEQUENCE_ITEMS:
                raise SecurityError("a concatenation too long for a macro")
        return super().call_binop(context, operator, left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise SecurityError(f"range of {len(span)} items; a macro may loop at most {MAX_RANGE} times")
    return span


_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.globals["range"] = _bounded_range


def environment() -> BoundedEnvironment:
    """The environment macros are parsed with (save-time checks); rendering happens in a worker."""
    return _ENV


@lru_cache(maxsize=2048)
def _compiled(body: str) -> Template:
    return _ENV.from_string(body)


# A worker's answer: ("ok", text, None) or (error kind, message, the undefined name if any).
Outcome = tuple[str, str, str | None]


def render_in_worker(body: str, variables: dict[str, Any]) -> Outcome:
    """Runs in a worker process. Never raises for anything a template can cause."""
    try:
        size = 0
        chunks: list[str] = []
        for chunk in _compiled(body).generate(**variables):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                return "too_long", f"rendered macro is over {MAX_OUTPUT_CHARS} characters", None
            chunks.append(chunk)
        return "ok", "".join(chunks), None
    except UndefinedError as exc:
        found = _UNDEFINED_NAME.search(str(exc))
        return "undefined", str(exc)[:300], found.group(1) if found else None
    except SecurityError as exc:
        return "forbidden", str(exc)[:300], None
    except MemoryError:
        return "failed", "macro needs too much memory", None
    except (
        TemplateError,
        ArithmeticError,
        LookupError,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
    ) as exc:
        return "failed", f"{type(exc).__name__}: {str(exc)[:300]}", None


def _limit_worker() -> None:
    """Caps the worker's address space at what it uses now plus WORKER_MEMORY_BYTES.

    Relative, because a worker starts by importing the server's main module (multiprocessing's
    forkserver re-imports it), whose size depends on how the server was started.
    """
    try:
        with open("/proc/self/statm") as handle:
            in_use = int(handle.read().split()[0]) * resource.getpagesize()
    except OSError:
        return  # not Linux: no cap rather than a wrong one
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = in_use + WORKER_MEMORY_BYTES
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class RenderTimeout(Exception):
    pass


class RenderCrashed(Exception):
    pass


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def _workers() -> ProcessPool:
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.active:
            # forkserver: workers fork from a clean helper process, not from this multi-threaded server.
            _pool = ProcessPool(
                max_workers=WORKERS,
                initializer=_limit_worker,
                context=multiprocessing.get_context("forkserver"),
            )
        return _pool


@atexit.register
def _stop_workers() -> None:
    with _pool_lock:
        if _pool is not None:
            _pool.stop()  # type: ignore[no-untyped-call]
            _pool.join(timeout=5)


def warm() -> None:
    """Starts the workers off the request path; a failure here is logged, and the first render retries."""
    try:
        render("", {}, timeout=60)
    except (RenderTimeout, RenderCrashed) as exc:
        log.warning("macro render workers did not start: %s", exc)


def _discard(pool: ProcessPool) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.stop()  # type: ignore[no-untyped-call]


def render(body: str, variables: dict[str, Any], *, timeout: float = MAX_RENDER_SECONDS) -> Outcome:
    """Renders in a worker; RenderTimeout when over `timeout` seconds of running, RenderCrashed when the
    worker died (out of memory beyond the cap, a crash) or no worker could start."""
    for attempt in (1, 2):
        pool = _workers()
        try:
            future = pool.schedule(render_in_worker, args=(body, variables), timeout=timeout)
            outcome: Outcome = future.result()
            return outcome
        except FutureTimeoutError as exc:
            raise RenderTimeout(f"macro took longer than {timeout:g} s to render") from exc
        except ProcessExpired as exc:
            raise RenderCrashed(f"macro rendering stopped its worker ({exc})") from exc
        except (BrokenProcessPool, RuntimeError) as exc:
            # Workers that cannot start (or a pool stopped under us): a fresh pool once, then give up.
            _discard(pool)
            if attempt == 2:
                raise RenderCrashed(f"macro render workers unavailable ({type(exc).__name__})") from exc
    raise AssertionError("unreachable")
