"""Settings reject encoder names that no bundled model answers to, naming the ones that do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings


@pytest.mark.parametrize("field", ["encoder", "article_encoder"])
def test_the_test_suites_hashing_encoder_is_no_setting(tmp_path: Path, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(data_dir=tmp_path, **{field: "hashing"})
    message = str(raised.value)
    assert "unknown encoder 'hashing'" in message
    for valid in (
        "routed",
        "use-multilingual",
        "minilm",
        "e5-small",
        "use+minilm",
        "use+minilm-multilingual",
    ):
        assert valid in message


def test_the_environment_is_checked_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_ENCODER", "hashing-routed")
    with pytest.raises(ValidationError, match="unknown encoder 'hashing-routed'"):
        Settings(data_dir=tmp_path)
    monkeypatch.setenv("DEFLECT_ENCODER", "minilm")
    assert Settings(data_dir=tmp_path, article_encoder="auto").resolved_article_encoder == "minilm"


def test_serve_workers_share_the_cores_unless_the_operator_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    """`deflect serve --workers N` gives each worker cores // N threads for the encoder, BLAS and OpenMP;
    a thread count the operator exported is kept."""
    from cli.core import THREAD_POOL_VARIABLES, share_cores
    from core.settings import get_settings

    for name in ("DEFLECT_ENCODER_THREADS", *THREAD_POOL_VARIABLES):
        monkeypatch.setenv(name, "0")  # recorded first, so the test's own values are undone after it
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    share_cores(4)
    assert os.environ["DEFLECT_ENCODER_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    assert get_settings().encoder_threads == 2
    share_cores(16)  # more workers than cores: one thread each, never zero
    assert os.environ["DEFLECT_ENCODER_THREADS"] == "2"  # already set above: kept
    monkeypatch.delenv("DEFLECT_ENCODER_THREADS")
    share_cores(16)
    assert os.environ["DEFLECT_ENCODER_THREADS"] == "1"
    get_settings.cache_clear()
