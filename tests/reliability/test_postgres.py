"""The isolation, durability and concurrency checks again, on a real PostgreSQL server (tests/pg.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from api.app import create_app
from core.keys import get_or_create_tenant
from core.settings import Settings
from kb.models import Article
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import deflect, deflect_env
from tests.reliability.test_concurrency import WRITER_SCRIPT, assert_all_written, write_articles
from tests.reliability.test_crash_recovery import write_articles_file
from tests.support.encoders import hashing_encoders

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_runtime(pg_settings: Settings) -> Runtime:
    runtime = Runtime(pg_settings, encoders=hashing_encoders)
    runtime.migrate()
    return runtime


def test_migrations_build_the_whole_schema_on_postgres(pg_runtime: Runtime) -> None:
    tables = set(inspect(pg_runtime.db_engine).get_table_names())
    assert {"tenants", "api_keys", "change_log", "articles", "article_chunks", "alembic_version"} <= tables
    pg_runtime.migrate()  # idempotent
    # search_models records the deployment's embedding models: configuration, no tenant's data.
    for table in tables - {"alembic_version", "tenants", "search_models"}:
        columns = {c["name"] for c in inspect(pg_runtime.db_engine).get_columns(table)}
        assert "tenant_id" in columns, f"{table} has no tenant_id"
    pg_runtime.close()


def test_tenants_stay_isolated_on_postgres(pg_runtime: Runtime, pg_settings: Settings) -> None:
    alpha, beta = make_tenant(pg_runtime, "alpha"), make_tenant(pg_runtime, "beta")
    write_articles(pg_runtime, "same", 5, tenant="alpha")
    write_articles(pg_runtime, "same", 5, tenant="beta")
    with TestClient(create_app(pg_settings, runtime=pg_runtime, warm_sync=True)) as client:
        for keys, other in ((alpha, "beta"), (beta, "alpha")):
            for query in ("title 1", "body 3 from same", "same"):
                found = client.post(
                    "/v1/suggest", json={"query": query, "top_k": 20}, headers=keys.headers("public")
                ).json()["suggestions"]
                assert found and all(s["id"].startswith("same-") for s in found)
            other_items = set(pg_runtime.search.collection(other, "articles").items)
            own_items = set(pg_runtime.search.collection(keys.tenant_id, "articles").items)
            assert own_items and not own_items & other_items
            patched = client.patch(
                "/v1/articles/same-1", json={"title": f"only {keys.tenant_id}"}, headers=keys.headers("admin")
            )
            assert patched.status_code == 200
        assert (
            client.get("/v1/articles/same-1", headers=alpha.headers("public")).json()["title"] == "only alpha"
        )
        assert (
            client.get("/v1/articles/same-1", headers=beta.headers("public")).json()["title"] == "only beta"
        )
    pg_runtime.close()


def test_threads_and_processes_writing_to_postgres_lose_nothing(
    pg_runtime: Runtime, pg_settings: Settings, tmp_path: Path
) -> None:
    with pg_runtime.session() as session:
        get_or_create_tenant(session, tenant_id="t")
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = deflect_env(pg_settings.data_dir, database_url=pg_settings.database_url)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), name, "40"],
            env=env,
            cwd=Path(__file__).parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    threads = [threading.Thread(target=write_articles, args=(pg_runtime, f"th{n}", 20)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for proc in procs:
        output = proc.communicate(timeout=180)[0]
        assert proc.returncode == 0, output
    assert_all_written(pg_runtime, 2 * 40 + 4 * 20)
    pg_runtime.close()


def test_import_killed_on_postgres_is_all_or_nothing(
    pg_runtime: Runtime, pg_settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "a.jsonl"
    write_articles_file(source, 600, seed=11)
    env = deflect_env(pg_settings.data_dir, database_url=pg_settings.database_url)
    proc = deflect(["import", "articles", str(source), "--tenant", "t"], env)
    time.sleep(1.0)
    proc.kill()
    proc.wait(timeout=10)
    with pg_runtime.session() as session:
        count = session.scalar(select(func.count()).select_from(Article))
    assert count in (0, 600)
    rerun = deflect(["import", "articles", str(source), "--tenant", "t"], env)
    assert rerun.wait(timeout=180) == 0
    assert_all_written(pg_runtime, 600)
    pg_runtime.close()


def test_two_replicas_on_one_database_see_each_others_writes(pg_settings: Settings, tmp_path: Path) -> None:
    first_rt = Runtime(pg_settings, encoders=hashing_encoders)
    first_rt.migrate()
    keys = make_tenant(first_rt, "shared")
    second_settings = pg_settings.model_copy(update={"data_dir": tmp_path / "replica2"})
    second_rt = Runtime(second_settings, encoders=hashing_encoders)
    with (
        TestClient(create_app(pg_settings, runtime=first_rt, warm_sync=True)) as first,
        TestClient(create_app(second_settings, runtime=second_rt, warm_sync=True)) as second,
    ):
        for writer, reader, article in ((first, second, "from-first"), (second, first, "from-second")):
            reader.post("/v1/suggest", json={"query": "warm"}, headers=keys.headers("public"))
            created = writer.post(
                "/v1/articles",
                headers=keys.headers("admin"),
                json={
                    "id": article,
                    "title": f"Written on {article}",
                    "body": f"Unique words {article} zebra",
                },
            )
            assert created.status_code == 201
            started = time.monotonic()
            while time.monotonic() - started < 10 * pg_settings.index_sync_seconds + 3:
                found = reader.post(
                    "/v1/suggest",
                    json={"query": f"unique words {article} zebra"},
                    headers=keys.headers("public"),
                ).json()["suggestions"]
                if any(s["id"] == article for s in found):
                    break
                time.sleep(0.05)
            else:
                pytest.fail(f"{article} never reached the other replica's index")
            assert reader.get("/readyz").status_code in (200, 503)
    first_rt.close()
    second_rt.close()
