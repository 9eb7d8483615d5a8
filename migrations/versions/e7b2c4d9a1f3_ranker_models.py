"""ranker_models: each tenant's learned article ranker, versioned, JSON with a checksum

Revision ID: e7b2c4d9a1f3
Revises: d3f1a2b4c5e6
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "e7b2c4d9a1f3"
down_revision: str | None = "d3f1a2b4c5e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ranker_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("events_seen", sa.Integer(), nullable=False),
        sa.Column("replay", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranker_models")),
        sa.UniqueConstraint("tenant_id", "version", name=op.f("uq_ranker_models_tenant_id_version")),
    )
    with op.batch_alter_table("ranker_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ranker_models_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ranker_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ranker_models_tenant_id"))
    op.drop_table("ranker_models")
