"""Model files in the database, and one claim per scheduled job firing.

Replicas on several machines share no disk: a promoted model's bytes (with their SHA-256)
live in ``model_files`` and each replica caches them locally. ``job_runs`` holds one row per
(job, fire time); the replica whose INSERT wins runs that firing, the others skip it.
``active_model.path`` stays: it is where the promoting process cached the file, which
releases before this revision still read during a rolling upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_files",
        sa.Column("version", sa.String(64)),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("stored_at", WHEN, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_model_files"),
        sa.CheckConstraint("length(data) = size_bytes", name="ck_model_files_size"),
    )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(64)),
        sa.Column("fire_time", WHEN),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.Column("claimed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("job", "fire_time", name="pk_job_runs"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("model_files")
