"""Shared fixtures: a real SQLite file, real FAISS, and the hashing encoder unless a test asks for a model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from api.app import create_app  # noqa: E402
from cli.context import wired  # noqa: E402
from core import keys  # noqa: E402
from core.settings import Settings  # noqa: E402
from runtime import Runtime  # noqa: E402
from tests.pg import pg_settings, pg_url, pgvector_url, postgres_server  # noqa: E402,F401  (PostgreSQL fixtures)
from tests.redis_server import redis_server, redis_url  # noqa: E402,F401  (Redis fixtures)
from tests.support.encoders import HASHING, hashing_encoders  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SHARED_DATA = ROOT.parent / "shared" / "data"


# The suite runs on two xdist workers, a file at a time (scripts/test.sh). These files hold most of its
# wall time (a live server with the real model, browsers, servers killed and restarted); started first,
# they overlap with the many short files instead of leaving one worker alone at the end.
LONG_FILES_FIRST = (
    "tests/web/",
    "tests/reliability/",
    "tests/security/test_fuzz.py",
    "tests/channels/test_crash.py",
    "tests/replies/test_intents.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def is_long(item: pytest.Item) -> bool:
        where = item.nodeid.split("::")[0]
        return any(where.startswith(prefix) for prefix in LONG_FILES_FIRST)

    items.sort(key=lambda item: not is_long(item))  # stable: each file keeps its own order


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A private data dir per test; the hashing encoder keeps plumbing tests fast and model-free."""
    return Settings(data_dir=tmp_path / "var", index_sync_seconds=0.2, default_abstain_threshold=0.1)


@pytest.fixture
def hashing_cli() -> Iterator[None]:
    """In-process `deflect` commands (CliRunner) build their encoders with the hashing loader."""
    with wired(HASHING):
        yield


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head, copied by every test instead of running each migration again."""
    folder = tmp_path_factory.mktemp("migrated")
    template = Runtime(Settings(data_dir=folder), encoders=hashing_encoders)
    template.migrate()
    template.close()
    return folder / "deflect.db"


@pytest.fixture
def runtime(settings: Settings, migrated_sqlite: Path) -> Iterator[Runtime]:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_sqlite, settings.data_dir / migrated_sqlite.name)
    rt = Runtime(settings, encoders=hashing_encoders)
    rt.migrate()  # already at head for a copied template: Alembic only reads the version
    yield rt
    rt.close()


@dataclass
class TenantKeys:
    tenant_id: str
    public: str
    agent: str
    admin: str

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": getattr(self, role)}


def make_tenant(runtime: Runtime, tenant_id: str) -> TenantKeys:
    with runtime.session() as session:
        keys.get_or_create_tenant(session, tenant_id=tenant_id, allowed_origins=["http://shop.example"])
        raw = {role: keys.create_key(session, tenant_id=tenant_id, role=role)[1] for role in keys.ROLES}
    return TenantKeys(tenant_id=tenant_id, **raw)


@pytest.fixture
def tenant(runtime: Runtime) -> TenantKeys:
    return make_tenant(runtime, "acme")


@pytest.fixture
def client(settings: Settings, runtime: Runtime, tenant: TenantKeys) -> Iterator[TestClient]:
    app = create_app(settings, runtime=runtime, warm_sync=True)
    with TestClient(app) as test_client:
        yield test_client
