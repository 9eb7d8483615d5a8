"""tickets.resolved_by_article: the KB article a past ticket's resolution rested on

Revision ID: d3f1a2b4c5e6
Revises: d3a1f0c7e2b9
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3f1a2b4c5e6"
down_revision: str | None = "d3a1f0c7e2b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by_article", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("resolved_by_article")
