"""Retraining heartbeats and the active model shared by every bot process.

A run that stops heart-beating is a crashed run, so stale detection no longer has to guess
from the start time; existing runs take their start time as their last heartbeat.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("retrain_runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE retrain_runs SET heartbeat_at = started_at")
    op.create_table(
        "active_model",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_active_model"),
        sa.CheckConstraint("id = 1", name="ck_active_model_single_row"),
    )


def downgrade() -> None:
    op.drop_table("active_model")
    with op.batch_alter_table("retrain_runs") as batch:
        batch.drop_column("heartbeat_at")
