"""Concurrent writers on one database (threads and two processes) lose nothing; /readyz waits for catch-up."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from api.app import create_app
from core.keys import get_or_create_tenant
from core.models import ChangeLog
from core.settings import Settings
from kb import service as kb_service
from kb.models import Article
from kb.schemas import ArticleCreate
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import deflect, deflect_env
from tests.support.encoders import hashing_encoders

WRITER_SCRIPT = """
import sys
from runtime import Runtime
from core.settings import Settings
from kb import service
from kb.schemas import ArticleCreate
from tests.support.encoders import hashing_encoders
runtime = Runtime(Settings(), encoders=hashing_encoders)
for i in range(int(sys.argv[2])):
    with runtime.session() as session:
        service.upsert(session, tenant_id="t", article_in=ArticleCreate(
            id=f"{sys.argv[1]}-{i}", title=f"title {i}", body=f"body {i} from {sys.argv[1]}"))
"""


def write_articles(runtime: Runtime, prefix: str, n: int, tenant: str = "t") -> None:
    for i in range(n):
        with runtime.session() as session:
            kb_service.upsert(
                session,
                tenant_id=tenant,
                article_in=ArticleCreate(
                    id=f"{prefix}-{i}", title=f"title {i}", body=f"body {i} from {prefix}"
                ),
            )


def assert_all_written(runtime: Runtime, expected: int, tenant: str = "t") -> None:
    with runtime.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Article).where(Article.tenant_id == tenant))
            == expected
        )
        seqs = list(session.scalars(select(ChangeLog.seq).where(ChangeLog.tenant_id == tenant)))
    assert len(seqs) == len(set(seqs))
    runtime.search.forget()
    collection = runtime.search.collection(tenant, "articles")
    assert len({item.key for item in collection.items.values()}) == expected


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(runtime: Runtime) -> None:
    with runtime.db_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert int(connection.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000


def test_threads_writing_at_once_lose_nothing(runtime: Runtime) -> None:
    with runtime.session() as session:
        get_or_create_tenant(session, tenant_id="t")
    errors: list[BaseException] = []

    def work(prefix: str) -> None:
        try:
            write_articles(runtime, prefix, 25)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"th{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert_all_written(runtime, 8 * 25)


def test_two_processes_writing_at_once_lose_nothing(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    with runtime.session() as session:
        get_or_create_tenant(session, tenant_id="t")
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = deflect_env(settings.data_dir)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), name, "60"],
            env=env,
            cwd=Path(__file__).parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    write_articles(runtime, "main", 30)  # and this process at the same time
    for proc in procs:
        output = proc.communicate(timeout=180)[0]
        assert proc.returncode == 0, output
    assert_all_written(runtime, 150)


def test_readyz_is_false_until_the_index_has_caught_up(tmp_path: Path) -> None:
    # No lag allowed: any change not yet in the index makes the replica unready.
    settings = Settings(data_dir=tmp_path / "var", index_sync_seconds=3600, ready_max_lag_seconds=0)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    make_tenant(runtime, "t")
    write_articles(runtime, "before", 3)
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        assert client.get("/readyz").status_code == 200
        other_replica = Runtime(
            settings, encoders=hashing_encoders
        )  # a second process writing to the same database
        write_articles(other_replica, "after", 2)
        other_replica.close()
        behind = client.get("/readyz")
        assert behind.status_code == 503 and behind.json()["ready"] is False
        runtime.search.sync_all()
        assert client.get("/readyz").status_code == 200
        assert len(runtime.search.collection("t", "articles")) >= 5
    runtime.close()


def test_a_replica_catches_up_within_the_sync_interval(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", index_sync_seconds=0.2)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, "t")
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        writer = Runtime(settings, encoders=hashing_encoders)
        write_articles(writer, "fresh", 1)
        writer.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            hits = client.post(
                "/v1/suggest", json={"query": "body 0 from fresh"}, headers=keys.headers("public")
            )
            if any(s["id"] == "fresh-0" for s in hits.json()["suggestions"]):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the write of another replica never reached this replica's index")
        assert client.get("/readyz").status_code == 200
    runtime.close()


def test_cli_import_and_server_share_the_database(tmp_path: Path) -> None:
    """`deflect import` in another process while this one serves: the import becomes searchable here."""
    settings = Settings(data_dir=tmp_path / "var", index_sync_seconds=0.2)
    runtime = Runtime(settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, "t")
    source = tmp_path / "a.jsonl"
    source.write_text('{"id": "cli-1", "title": "Voucher codes", "body": "Voucher codes never expire."}\n')
    with TestClient(create_app(settings, runtime=runtime, warm_sync=True)) as client:
        client.post("/v1/suggest", json={"query": "voucher"}, headers=keys.headers("public"))
        proc = deflect(["import", "articles", str(source), "--tenant", "t"], deflect_env(settings.data_dir))
        assert proc.wait(timeout=120) == 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = client.post(
                "/v1/suggest", json={"query": "voucher codes"}, headers=keys.headers("public")
            ).json()
            if found["suggestions"]:
                break
            time.sleep(0.1)
        assert found["suggestions"][0]["id"] == "cli-1"
    runtime.close()
