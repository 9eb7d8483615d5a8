"""Settings reject encoder names that no bundled model answers to, naming the ones that do."""

from __future__ import annotations

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
