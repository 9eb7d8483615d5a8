"""deflection events: the articles an impression showed, best first

Revision ID: d3a1f0c7e2b9
Revises: 5c0a1f3e9b21
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d3a1f0c7e2b9"
down_revision: str | None = "5c0a1f3e9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deflection_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("article_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deflection_events", schema=None) as batch_op:
        batch_op.drop_column("article_ids")
