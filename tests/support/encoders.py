"""The model-free encoder of the test suite, and the loader that injects it into a Runtime or the CLI.

Production code knows no fake: `Runtime(settings, encoders=hashing_encoders)`, `create_app(settings,
runtime=...)`, `bootstrap.main(HASHING)` (tests/support/serve.py for subprocesses) and the eval
functions' `encoders=` parameter are where the tests plug it in.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from cli.context import Wiring
from embeddings.encoder import CachedEncoder, Encoder, Precision, TextKind

_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEncoder:
    """Deterministic character-trigram hashing: wording overlap stands in for meaning, no model loads."""

    name = "hashing"
    # Its nearest neighbour is a spelling accident, so meaning-based fallbacks must ignore it.
    semantic = False

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    @property
    def version(self) -> str:
        return f"hashing-{self.dim}"

    def encode(self, texts: Sequence[str], *, kind: TextKind = "passage") -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            buckets = [b for token in _TOKEN.findall(text.lower()) for b in _token_buckets(token, self.dim)]
            if buckets:
                out[row] = np.bincount(buckets, minlength=self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(out / norms)


# Per token, not per trigram: support texts repeat a small vocabulary, and hashing every trigram of
# every word again made this encoder a large cost of the import and crash tests (1,500 texts of 60
# words: 2.15 s -> 0.26 s with a cold cache, bit-identical vectors).
@functools.lru_cache(maxsize=1 << 16)
def _token_buckets(token: str, dim: int) -> tuple[int, ...]:
    padded = f"#{token}#"
    return tuple(
        int.from_bytes(hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest(), "little") % dim
        for i in range(max(1, len(padded) - 2))
    )


# One per process, like a loaded model: per-encoder caches (intent examples, calibration) key on it.
_SHARED: Encoder = CachedEncoder(HashingEncoder())


def hashing_encoders(
    name: str, *, batch_size: int = 64, threads: int = 2, precision: Precision = "auto"
) -> Encoder:
    """An EncoderLoader answering every encoder setting (tickets and articles) with the hashing encoder."""
    return _SHARED


HASHING = Wiring(encoders=hashing_encoders)
