"""The flood limit's windows: each user's count of updates until their window ends.

One row per user, upserted by every update the bot receives (`bot/storage/flood.py`), so the
limit holds across replicas. A new table only: releases before this revision ignore it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flood_windows",
        sa.Column("user_id", sa.BigInteger, autoincrement=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updates", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_flood_windows"),
    )


def downgrade() -> None:
    op.drop_table("flood_windows")
