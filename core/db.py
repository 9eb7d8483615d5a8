"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from core.clock import utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TenantMixin:
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# How long a SQLite writer waits for another's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; the busy timeout makes concurrent
    # writers (threads or a second process) wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten with zeros, not left in free pages for anyone reading the file
    # (set here rather than trusting the build's default, which differs between platforms).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _make_private(data_dir: Path, database: str | None) -> None:
    """Owner-only access to the data directory and the SQLite file (customers' messages and contacts).

    The file is created here, 0600, before SQLite would create it under the process umask (typically
    world-readable); SQLite gives its -wal and -shm files the database file's mode. Existing ones are
    narrowed too.
    """
    os.chmod(data_dir, stat.S_IMODE(data_dir.stat().st_mode) & 0o700)
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            os.chmod(candidate, stat.S_IMODE(candidate.stat().st_mode) & 0o600)


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _make_private(settings.data_dir, make_url(url).database)
        # No cap on SQLite connections: a request thread may hold two at once (its own session and an
        # index catch-up), and a capped pool then lets threads that hold one wait for another until
        # the pool times out, some of them inside a write transaction everyone else waits on.
        # SQLite has no server-side connection limit; `db_pool_size` idle connections are kept.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=QueuePool,
            pool_size=settings.db_pool_size,
            max_overflow=-1,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back everything on any error."""
    session = factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


# -- erasure ------------------------------------------------------------------------------

_TRUNCATE_WAL = "deflect_truncate_wal"


def truncate_wal_after_commit(session: Session) -> None:
    """Asks for the SQLite write-ahead log to be emptied once this session's transaction commits.

    The WAL keeps old page images (a customer's name as first written) until it is reset, and a plain
    checkpoint reuses the file without shortening it. Erasure calls this so nothing of the erased rows
    survives in any file of the data directory. A no-op on PostgreSQL.
    """
    session.info[_TRUNCATE_WAL] = True


def truncate_wal(engine: Engine, *, attempts: int = 10) -> bool:
    """Checkpoints every WAL frame into the database file and truncates the WAL to zero bytes.

    Returns False (and logs) when readers kept it busy through every attempt; the next erasure or
    the next TRUNCATE checkpoint finishes the job.
    """
    if engine.dialect.name != "sqlite":
        return True
    for attempt in range(attempts):
        with engine.connect() as connection:
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
        if not busy:
            return True
        time.sleep(0.05 * (attempt + 1))
    log.warning("WAL still in use by readers after %d attempts; it will be truncated later", attempts)
    return False


@event.listens_for(Session, "after_commit")
def _truncate_wal_if_asked(session: Session) -> None:
    if session.info.pop(_TRUNCATE_WAL, False):
        truncate_wal(session.get_bind().engine)  # its own connection: this session's is done
