"""Concurrent callers of one loaded model share forward passes: the texts of everyone who arrives while a
pass runs go into the next pass together, and each caller gets exactly its own rows back."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from embeddings.encoder import CachedEncoder, TextKind
from tests.support.encoders import HashingEncoder


class GatedEncoder(HashingEncoder):
    """Holds its first pass until released, so the test decides who queues behind it."""

    def __init__(self) -> None:
        super().__init__(64)
        self.release = threading.Event()
        self.entered = threading.Event()
        self.passes: list[list[str]] = []
        self.fail_on = ""

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        self.passes.append(list(texts))
        self.entered.set()
        self.release.wait(timeout=30)
        if self.fail_on and self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return super().encode(texts, kind=kind)


def _queued(cached: CachedEncoder, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(cached._queue) < count:  # noqa: SLF001 - the test waits for the callers to queue
        assert time.monotonic() < deadline, "callers never queued"
        time.sleep(0.005)


def _run(cached: CachedEncoder, texts: list[list[str]], kind: TextKind) -> list[np.ndarray | Exception]:
    results: list[np.ndarray | Exception] = [np.zeros(0)] * len(texts)

    def call(index: int) -> None:
        try:
            results[index] = cached.encode(texts[index], kind=kind)
        except Exception as exc:  # the test inspects what each caller got
            results[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    threads[0].start()
    inner = cached._inner  # noqa: SLF001
    assert isinstance(inner, GatedEncoder)
    assert inner.entered.wait(timeout=30)
    for thread in threads[1:]:
        thread.start()
    _queued(cached, len(texts) - 1)
    inner.release.set()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_queries_arriving_during_a_pass_are_encoded_together_and_each_caller_gets_its_rows() -> None:
    inner = GatedEncoder()
    cached = CachedEncoder(inner, concurrency=1)
    texts = [["where is my parcel"]] + [[f"question {i}", f"other {i}"] for i in range(7)]
    results = _run(cached, texts, "query")
    assert inner.passes[0] == ["where is my parcel"]
    assert len(inner.passes) == 2 and len(inner.passes[1]) == 14  # seven callers, one pass
    reference = HashingEncoder(64)
    for asked, got in zip(texts, results, strict=True):
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, reference.encode(asked, kind="query"))


def test_a_pass_holds_at_most_max_batch_texts_and_kinds_are_never_mixed() -> None:
    inner = GatedEncoder()
    cached = CachedEncoder(inner, concurrency=1, max_batch=4)
    texts = [["first"], ["a", "b", "c"], ["d", "e"], ["f"], ["g", "h", "i", "j", "k"]]
    results = _run(cached, texts, "passage")
    assert all(isinstance(r, np.ndarray) for r in results)
    assert all(len(p) <= 4 or len(p) == 5 and p == ["g", "h", "i", "j", "k"] for p in inner.passes)
    assert sorted(t for p in inner.passes for t in p) == sorted(t for group in texts for t in group)
    assert len(inner.passes) < len(texts)

    mixed = GatedEncoder()
    cached = CachedEncoder(mixed, concurrency=1)
    started = threading.Thread(target=cached.encode, args=(["held"],), kwargs={"kind": "passage"})
    started.start()
    assert mixed.entered.wait(timeout=30)
    query = threading.Thread(target=cached.encode, args=(["q1"],), kwargs={"kind": "query"})
    passage = threading.Thread(target=cached.encode, args=(["p1"],), kwargs={"kind": "passage"})
    query.start()
    passage.start()
    _queued(cached, 2)
    mixed.release.set()
    for thread in (started, query, passage):
        thread.join(timeout=30)
    assert sorted(map(tuple, mixed.passes)) == [("held",), ("p1",), ("q1",)]


def test_a_failed_pass_fails_its_callers_only_and_the_encoder_keeps_working() -> None:
    inner = GatedEncoder()
    inner.fail_on = "bad"
    cached = CachedEncoder(inner, concurrency=1)
    results = _run(cached, [["fine"], ["bad"], ["also queued"]], "query")
    assert isinstance(results[0], np.ndarray)
    assert isinstance(results[1], RuntimeError) and isinstance(results[2], RuntimeError)
    inner.fail_on = ""
    again = cached.encode(["also queued"], kind="query")
    np.testing.assert_allclose(again, HashingEncoder(64).encode(["also queued"], kind="query"))
    with pytest.raises(RuntimeError):
        inner.fail_on = "bad"
        cached.encode(["bad"], kind="query")
