"""The tables, as SQLAlchemy Core metadata: the store's queries and the migration check use them.

Migrations in ``bot/storage/migrations/versions`` are written by hand and never import this
module, so an old revision stays what it was; a test compares this metadata with a database
migrated to head.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

# Constraint and index names, so that migrations name them alike on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

RUNNING = "running"  # a retraining run's state while it holds the lock
FINISHED = "finished"  # and once it released it


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset of its own).

    Naive datetimes are refused: a naive "now" from one process and an aware cutoff from
    another would silently compare wrong.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
IdType = BigInteger().with_variant(Integer(), "sqlite")

images = Table(
    "images",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("mime_type", String(100), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("cluster", Integer, nullable=False),
    Column("distance", Float, nullable=False),
    Column("typicality", Float, nullable=False),
    Column("is_outlier", Boolean, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("feedback_digit", SmallInteger, nullable=True),
    Column("feedback_at", UtcDateTime, nullable=True),
    Column("mnist", LargeBinary, nullable=False),
    Column("original", LargeBinary, nullable=False),  # b"" but in a photo's first digit's row
    # A photo of several digits has a row per digit (migration 0004): its index in reading
    # order, how many the photo has, its box in the upright photo's pixels.
    Column("digit_index", SmallInteger, nullable=False, server_default=text("0")),
    Column("digit_count", SmallInteger, nullable=False, server_default=text("1")),
    Column("box_x0", Integer, nullable=True),
    Column("box_y0", Integer, nullable=True),
    Column("box_x1", Integer, nullable=True),
    Column("box_y1", Integer, nullable=True),
    Column("touching", Boolean, nullable=False, server_default=false()),
    Column("reply_message_id", BigInteger, nullable=True),  # the bot's reply to the photo
    # The user had sent these bytes before (migration 0007): the original is kept once, by
    # the first such photo still stored, and retraining reads the first photo's digits only.
    Column("repeated", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("chat_id", "message_id", "digit_index"),
    Index("ix_images_chat_id_reply_message_id", "chat_id", "reply_message_id"),
    # A user's photos by time: /forget, and their count of today for the daily quota.
    Index("ix_images_user_id_received_at", "user_id", "received_at"),
    CheckConstraint("feedback_digit BETWEEN 0 AND 9", name="feedback_digit"),
    CheckConstraint("length(mnist) = 784", name="mnist_size"),
)

FIRST_DIGIT = images.c.digit_index == 0
"""A photo's first digit's row: the one that holds the photo's bytes and stands for it."""

cluster_names = Table(
    "cluster_names",
    metadata,
    Column("cluster", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("set_by", BigInteger, nullable=True),
    Column("set_at", UtcDateTime, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("metadata", JSON, nullable=False),
    Column("first_served_at", UtcDateTime, nullable=False),
)

retrain_runs = Table(
    "retrain_runs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("trigger", String(32), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("outcome", String(32), nullable=True),
    Column("detail", Text, nullable=True),
    Column("metrics", JSON, nullable=True),
    CheckConstraint(f"state IN ('{RUNNING}', '{FINISHED}')", name="state"),
    # The retrain lock: the database itself refuses a second running row, across processes.
    Index(
        "uq_retrain_runs_one_running",
        "state",
        unique=True,
        sqlite_where=text(f"state = '{RUNNING}'"),
        postgresql_where=text(f"state = '{RUNNING}'"),
    ),
)

active_model = Table(
    "active_model",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# A promoted model file, so that a replica on another machine can serve it (bot/model_files.py).
model_files = Table(
    "model_files",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
    Column("data", LargeBinary, nullable=False),
    CheckConstraint("length(data) = size_bytes", name="size"),
)

# One row per firing of a scheduled job: the replica whose INSERT wins runs it.
job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("fire_time", UtcDateTime, primary_key=True),
    Column("claimed_by", String(200), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

# When each user last had their data exported: one /export an hour, whichever replica answers.
user_exports = Table(
    "user_exports",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("exported_at", UtcDateTime, nullable=False),
)

# Each user's updates in their current window, for the flood limit (bot/flood.py): one row
# per user, counted by a single upsert per update so that every replica sees the same count.
flood_windows = Table(
    "flood_windows",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("updates", Integer, nullable=False),
)

# The bytes of every stored original, counted as they are kept and erased, so that the cap
# (STORAGE_CAP_GB) costs no scan; `alert`: the last level pushed to admins (bot/storage/usage.py).
storage_usage = Table(
    "storage_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("original_bytes", BigInteger, nullable=False),
    Column("alert", SmallInteger, nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
