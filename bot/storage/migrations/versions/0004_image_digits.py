"""A photo of several digits: one ``images`` row per digit found, with its place in the photo.

Each digit of a photo is a row of its own (its index in reading order, the photo's count of
digits, its box in the upright photo's pixels, whether it seemed to be touching digits), so
that retraining, /stats and /forget count and erase digits. The photo's bytes are kept once,
in the row of its first digit. ``reply_message_id`` is the bot's reply, which the user answers
with the true number. Existing rows are single digits: index 0 of 1, no box.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BOX = ("box_x0", "box_y0", "box_x1", "box_y1")


def upgrade() -> None:
    # SQLite cannot drop a table's UNIQUE constraint: batch mode copies the table instead.
    with op.batch_alter_table("images") as batch:
        batch.add_column(
            sa.Column("digit_index", sa.SmallInteger, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("digit_count", sa.SmallInteger, nullable=False, server_default=sa.text("1"))
        )
        for name in BOX:
            batch.add_column(sa.Column(name, sa.Integer, nullable=True))
        batch.add_column(
            sa.Column("touching", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("reply_message_id", sa.BigInteger, nullable=True))
        batch.drop_constraint("uq_images_chat_id_message_id", type_="unique")
        batch.create_unique_constraint(
            "uq_images_chat_id_message_id_digit_index", ["chat_id", "message_id", "digit_index"]
        )
        batch.create_index("ix_images_chat_id_reply_message_id", ["chat_id", "reply_message_id"])


def downgrade() -> None:
    op.execute("DELETE FROM images WHERE digit_index > 0")
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_chat_id_reply_message_id")
        batch.drop_constraint("uq_images_chat_id_message_id_digit_index", type_="unique")
        batch.create_unique_constraint("uq_images_chat_id_message_id", ["chat_id", "message_id"])
        for name in ("reply_message_id", "touching", *reversed(BOX), "digit_count", "digit_index"):
            batch.drop_column(name)
