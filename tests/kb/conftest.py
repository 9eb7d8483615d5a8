"""The demo shop indexed once with the real bundled models, shared by the slow quality tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core import keys
from core.settings import Settings
from kb import service
from runtime import Runtime
from tests.conftest import DEMO


@pytest.fixture(scope="session")
def demo_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("demo-real"), encoder="use+minilm"))
    runtime.migrate()
    with runtime.session() as session:
        keys.get_or_create_tenant(session, tenant_id="demo")
        service.import_path(session, tenant_id="demo", path=DEMO / "articles.jsonl")
    runtime.search.catch_up("demo", "articles")
    yield runtime
    runtime.close()
