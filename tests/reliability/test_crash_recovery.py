"""SIGKILL a real `deflect` process mid-write, restart, and check nothing is lost, duplicated or out of
sync."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.models import ChangeLog
from core.settings import Settings
from kb.models import Article, ArticleChunk
from runtime import Runtime
from tests.conftest import make_tenant
from tests.reliability.procs import Server, deflect, deflect_env
from tests.support.encoders import hashing_encoders

TENANT = "crash"


def write_articles_file(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words = "parcel refund return label invoice damaged courier tracking cancel address voucher size".split()
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            paragraphs = "\n\n".join(" ".join(rng.choices(words, k=60)) for _ in range(3))
            handle.write(
                json.dumps(
                    {"id": f"a-{i:05d}", "title": f"Article {i} {rng.choice(words)}", "body": paragraphs}
                )
                + "\n"
            )


def _check_consistent(settings: Settings, expected_articles: int) -> dict[str, int]:
    """DB holds exactly the expected rows once each; a freshly started index matches the DB exactly."""
    runtime = Runtime(settings, encoders=hashing_encoders)
    try:
        with runtime.session() as session:
            articles = session.scalar(
                select(func.count()).select_from(Article).where(Article.tenant_id == TENANT)
            )
            distinct = session.scalar(
                select(func.count(func.distinct(Article.external_id))).where(Article.tenant_id == TENANT)
            )
            chunk_ids = set(session.scalars(select(ArticleChunk.id).where(ArticleChunk.tenant_id == TENANT)))
            orphans = session.scalar(
                select(func.count())
                .select_from(ArticleChunk)
                .where(ArticleChunk.article_id.not_in(select(Article.id)))
            )
        assert articles == distinct == expected_articles
        assert orphans == 0
        collection = runtime.search.collection(TENANT, "articles")
        assert set(collection.items) == chunk_ids
        assert collection.index.count() == len(chunk_ids)
        assert runtime.search.is_caught_up()
        hits = collection.search("parcel refund", runtime.search.encode_query("parcel refund"), top_k=5)
        assert len(hits) == 5 and all(h.item.item_id in chunk_ids for h in hits)
        return {"articles": articles, "chunks": len(chunk_ids)}
    finally:
        runtime.close()


@pytest.fixture
def crash_settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path / "var")


@pytest.mark.parametrize("kill_when", ["during_import", "during_indexing"])
def test_import_killed_mid_write_loses_and_duplicates_nothing(
    tmp_path: Path, crash_settings: Settings, kill_when: str
) -> None:
    source = tmp_path / "articles.jsonl"
    n = 1500
    write_articles_file(source, n, seed=7)
    env = deflect_env(crash_settings.data_dir)
    # A first, complete import of part of the data, so the second one overwrites and adds.
    first = tmp_path / "first.jsonl"
    first.write_text("".join(source.read_text().splitlines(keepends=True)[:300]))
    done = deflect(["import", "articles", str(first), "--tenant", TENANT], env)
    assert done.wait(timeout=120) == 0, done.stdout.read() if done.stdout else ""

    proc = deflect(["import", "articles", str(source), "--tenant", TENANT], env)
    assert proc.stdout is not None
    if kill_when == "during_import":
        time.sleep(1.0)  # past start-up, inside the one import transaction
    else:
        for line in proc.stdout:
            if "created" in line:  # the transaction committed; the index is being built now
                break
    proc.kill()
    proc.wait(timeout=10)
    assert proc.returncode == -9, "the import finished before it could be killed; use a larger file"

    # Whatever the kill left behind, the data is all-or-nothing and a restarted index matches it.
    state = _check_consistent(crash_settings, expected_articles=300 if kill_when == "during_import" else n)

    rerun = deflect(["import", "articles", str(source), "--tenant", TENANT], env)
    output = rerun.communicate(timeout=180)[0]
    assert rerun.returncode == 0, output
    final = _check_consistent(crash_settings, expected_articles=n)
    assert final["chunks"] >= state["chunks"]


def test_server_killed_under_writes_keeps_every_acknowledged_write(
    tmp_path: Path, crash_settings: Settings
) -> None:
    runtime = Runtime(crash_settings, encoders=hashing_encoders)
    runtime.migrate()
    keys = make_tenant(runtime, TENANT)
    runtime.close()
    server = Server(
        deflect_env(
            crash_settings.data_dir,
            DEFLECT_RATE_LIMIT_PER_MINUTE="1000000",
            DEFLECT_RATE_LIMIT_IP_PER_MINUTE="1000000",
        )
    )
    acknowledged: set[str] = set()
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, headers=keys.headers("admin"), timeout=10) as client:
            for i in range(400):
                body = {"id": f"w-{i}", "title": f"Written {i}", "body": f"parcel refund number {i} " * 20}
                try:
                    if client.post("/v1/articles", json=body).status_code == 201:
                        acknowledged.add(body["id"])
                except httpx.HTTPError:
                    break
                if i == 150:
                    server.process.send_signal(9)  # mid-stream: the next requests fail
    finally:
        server.stop()
    assert 100 < len(acknowledged) < 400

    restarted = Server(deflect_env(crash_settings.data_dir))
    try:
        restarted.wait_ready()
        with httpx.Client(base_url=restarted.url, headers=keys.headers("admin"), timeout=10) as client:
            stored = {a["id"] for a in client.get("/v1/articles?limit=200").json()["items"]}
            stored |= {a["id"] for a in client.get("/v1/articles?limit=200&offset=200").json()["items"]}
            assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:10]}"
            assert len(stored) - len(acknowledged) <= 1  # at most the one in flight when killed
            assert client.get("/readyz").json()["ready"] is True
    finally:
        restarted.stop()
    _check_consistent(crash_settings, expected_articles=len(stored))


def test_torn_snapshot_is_rebuilt_from_the_database(tmp_path: Path, crash_settings: Settings) -> None:
    source = tmp_path / "articles.jsonl"
    write_articles_file(source, 50, seed=3)
    done = deflect(
        ["import", "articles", str(source), "--tenant", TENANT], deflect_env(crash_settings.data_dir)
    )
    assert done.wait(timeout=120) == 0
    snapshot = crash_settings.index_dir / TENANT / "articles" / "vectors.faiss"
    assert snapshot.exists()
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])  # as if cut by a crash
    _check_consistent(crash_settings, expected_articles=50)
    runtime = Runtime(crash_settings, encoders=hashing_encoders)
    with runtime.session() as session:
        # The change log is append-only: a crash never leaves a hole the index would skip.
        seqs = list(session.scalars(select(ChangeLog.seq).order_by(ChangeLog.seq)))
    runtime.close()
    assert seqs == sorted(set(seqs))


def test_cli_import_of_a_malformed_file_writes_nothing(tmp_path: Path, crash_settings: Settings) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "ok-1", "title": "fine", "body": "fine"}\n{"id": "broken", "title": \n'
        '{"id": "x y", "title": "t", "body": "b"}\n',
        encoding="utf-8",
    )
    proc = deflect(["import", "articles", str(bad), "--tenant", TENANT], deflect_env(crash_settings.data_dir))
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0
    assert f"{bad}:2" in output.replace("\n", "") and f"{bad}:3" in output.replace("\n", "")
    runtime = Runtime(crash_settings, encoders=hashing_encoders)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0
    runtime.close()
