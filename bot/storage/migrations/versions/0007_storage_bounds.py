"""Bounded storage: a picture sent again is kept once, and the stored bytes are counted.

``images.repeated`` marks a photo whose bytes its sender had sent before: its original is not
stored again, and retraining reads the first such photo's digits only. Rows stored before
this revision are not marked. ``storage_usage`` (one row) counts the bytes of every stored
original, starting from what is stored now, and the last storage alert pushed to the admins.
The index on a user's photos by time serves their count of the day (the daily quota) and
replaces the one on ``user_id`` alone. Additive: releases before this revision keep working.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "images", sa.Column("repeated", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_index("ix_images_user_id_received_at", "images", ["user_id", "received_at"])
    op.drop_index("ix_images_user_id", "images")
    op.create_table(
        "storage_usage",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("original_bytes", sa.BigInteger, nullable=False),
        sa.Column("alert", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_storage_usage"),
        sa.CheckConstraint("id = 1", name="ck_storage_usage_single_row"),
    )
    op.execute(
        "INSERT INTO storage_usage (id, original_bytes, alert) "
        "SELECT 1, COALESCE(SUM(size_bytes), 0), 0 FROM images"
    )


def downgrade() -> None:
    op.drop_table("storage_usage")
    op.create_index("ix_images_user_id", "images", ["user_id"])
    op.drop_index("ix_images_user_id_received_at", "images")
    with op.batch_alter_table("images") as batch:
        batch.drop_column("repeated")
