"""identity blocking keys (postcode, name key) with a backfill; tickets listed by tenant and time

Revision ID: b6ae1a062f5f
Revises: 15ca7273628e
Create Date: 2026-11-25 09:41:23.473081
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from history.identity import blocking_keys

revision: str = "b6ae1a062f5f"
down_revision: str | None = "15ca7273628e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postcode", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("name_key", sa.String(length=20), nullable=True))
        batch_op.create_index("ix_identities_name_key", ["tenant_id", "kind", "name_key"], unique=False)
        batch_op.create_index("ix_identities_postcode", ["tenant_id", "kind", "postcode"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_tenant_created", ["tenant_id", "created_at", "id"], unique=False)

    # Existing name_address identities get their keys, or fuzzy matching would never see them again.
    identities = sa.table(
        "identities",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
        sa.column("postcode", sa.String),
        sa.column("name_key", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(identities.c.id, identities.c.value).where(identities.c.kind == "name_address")
    ).all()
    for row_id, value in rows:
        postcode, name_key = blocking_keys("name_address", value)
        connection.execute(
            identities.update().where(identities.c.id == row_id).values(postcode=postcode, name_key=name_key)
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_tenant_created")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index("ix_identities_postcode")
        batch_op.drop_index("ix_identities_name_key")
        batch_op.drop_column("name_key")
        batch_op.drop_column("postcode")
