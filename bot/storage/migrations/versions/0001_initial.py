"""The first schema: images, cluster names, model versions served, retraining runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
RUNNING = sa.text("state = 'running'")


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("cluster", sa.Integer, nullable=False),
        sa.Column("distance", sa.Float, nullable=False),
        sa.Column("typicality", sa.Float, nullable=False),
        sa.Column("is_outlier", sa.Boolean, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("feedback_digit", sa.SmallInteger, nullable=True),
        sa.Column("feedback_at", WHEN, nullable=True),
        sa.Column("mnist", sa.LargeBinary, nullable=False),
        sa.Column("original", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_images_chat_id_message_id"),
        sa.CheckConstraint("feedback_digit BETWEEN 0 AND 9", name="ck_images_feedback_digit"),
        sa.CheckConstraint("length(mnist) = 784", name="ck_images_mnist_size"),
    )
    op.create_index("ix_images_user_id", "images", ["user_id"])
    op.create_index("ix_images_received_at", "images", ["received_at"])
    op.create_index("ix_images_sha256", "images", ["sha256"])

    op.create_table(
        "cluster_names",
        sa.Column("cluster", sa.Integer, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("set_by", sa.BigInteger, nullable=True),
        sa.Column("set_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("cluster", name="pk_cluster_names"),
    )
    op.create_table(
        "model_versions",
        sa.Column("version", sa.String(64)),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("first_served_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_model_versions"),
    )
    op.create_table(
        "retrain_runs",
        sa.Column("id", ID, autoincrement=True),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_retrain_runs"),
        sa.CheckConstraint("state IN ('running', 'finished')", name="ck_retrain_runs_state"),
    )
    op.create_index(
        "uq_retrain_runs_one_running",
        "retrain_runs",
        ["state"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_table("retrain_runs")
    op.drop_table("model_versions")
    op.drop_table("cluster_names")
    op.drop_table("images")
