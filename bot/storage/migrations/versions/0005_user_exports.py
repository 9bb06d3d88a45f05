"""When each user last asked for their data (/export), so that the hourly limit holds across
replicas: the time lives in the database, not in one process's memory.

One row per user who ever exported, replaced by their next export and erased by /forget.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_exports",
        sa.Column("user_id", sa.BigInteger, autoincrement=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_exports"),
    )


def downgrade() -> None:
    op.drop_table("user_exports")
