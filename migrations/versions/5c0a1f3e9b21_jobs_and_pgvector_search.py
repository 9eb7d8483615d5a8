"""jobs table; on PostgreSQL, the pgvector extension and the search tables

Revision ID: 5c0a1f3e9b21
Revises: a199b53091b2
Create Date: 2026-12-03 15:00:00

The search tables exist only on PostgreSQL with pgvector (SQLite keeps FAISS files). Each collection
has one table; its `embedding` column is an unsized `vector` so one table can hold any model's vectors,
and each model gets its own partial HNSW index on `embedding::vector(dim)` (created by `deflect migrate`
once the configured model, and so its dimension, is known: indexing/pgsearch.py `ensure_model`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "5c0a1f3e9b21"
down_revision: str | None = "a199b53091b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

SEARCH_TABLES = ("search_articles", "search_tickets")
# Stemming per item language; anything else is matched word for word.
TEXT_CONFIG = (
    "CASE split_part(locale, '-', 1) "
    "WHEN 'en' THEN 'english'::regconfig WHEN 'fr' THEN 'french'::regconfig "
    "WHEN 'de' THEN 'german'::regconfig WHEN 'es' THEN 'spanish'::regconfig "
    "WHEN 'it' THEN 'italian'::regconfig ELSE 'simple'::regconfig END"
)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("run_after", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_jobs_dedupe_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_tenant_id"), ["tenant_id"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if available is None:
        # The FAISS backend still works on this server; the pgvector one refuses to start and says why.
        log.warning("PostgreSQL has no pgvector extension: search tables not created")
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE search_models (
            collection varchar(32) NOT NULL,
            encoder varchar(100) NOT NULL,
            dim integer NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_search_models PRIMARY KEY (collection, encoder)
        )
        """
    )
    for table in SEARCH_TABLES:
        op.execute(
            f"""
            CREATE TABLE {table} (
                item_id bigint NOT NULL,
                tenant_id varchar(64) NOT NULL,
                key text NOT NULL,
                text text NOT NULL,
                channels text[] NOT NULL DEFAULT '{{}}',
                locale varchar(16) NOT NULL DEFAULT 'en',
                labels text[] NOT NULL DEFAULT '{{}}',
                ts double precision NOT NULL DEFAULT 0,
                extra jsonb NOT NULL DEFAULT '{{}}',
                encoder varchar(100) NOT NULL,
                embedding vector NOT NULL,
                tsv tsvector GENERATED ALWAYS AS (to_tsvector({TEXT_CONFIG}, text)) STORED,
                CONSTRAINT pk_{table} PRIMARY KEY (item_id)
            )
            """
        )
        # Filters narrow by tenant and model first, then time (the duplicate window).
        op.execute(f"CREATE INDEX ix_{table}_tenant_ts ON {table} (tenant_id, encoder, ts)")
        op.execute(f"CREATE INDEX ix_{table}_tsv ON {table} USING gin (tsv)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in (*SEARCH_TABLES, "search_models"):
            op.execute(f"DROP TABLE IF EXISTS {table}")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
    op.drop_table("jobs")
