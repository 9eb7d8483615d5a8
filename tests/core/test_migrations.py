from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.db import Base
from runtime import Runtime


def test_alembic_upgrade_creates_every_table_and_matches_the_models(runtime: Runtime) -> None:
    tables = set(inspect(runtime.db_engine).get_table_names())
    assert {"tenants", "api_keys", "change_log", "articles", "article_chunks"} <= tables
    with runtime.db_engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": False}), Base.metadata
        )
    assert diff == [], f"models and migrations disagree; run alembic revision --autogenerate: {diff}"


def test_upgrade_is_idempotent(runtime: Runtime) -> None:
    runtime.migrate()
    runtime.migrate()
    assert "articles" in inspect(runtime.db_engine).get_table_names()
