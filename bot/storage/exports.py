"""A user's own rows for /export, and the claim of their hourly export (synchronous SQL).

The rows come in two reads: every field but the photos' bytes first (small, so the zips can be
planned from the originals' sizes), then those bytes by id, a batch at a time, so an export
never holds more of the user's photos in memory than one batch. Each read is confined to
the asking user's rows. The time of the last export is a row of its own, claimed in one
statement, so two replicas answering the same user's /export cannot both go ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, delete, select

from bot.storage.engine import upsert_insert
from bot.storage.images import DIGIT_COLUMNS, read_digit
from bot.storage.records import ExportedDigit
from bot.storage.schema import images, user_exports

# The columns of an exported row besides its digit's.
FIELDS = (
    images.c.id,
    images.c.chat_id,
    images.c.message_id,
    images.c.received_at,
    images.c.mime_type,
    images.c.size_bytes,
    images.c.model_version,
    images.c.feedback_digit,
    images.c.feedback_at,
    images.c.digit_index,
    images.c.digit_count,
)


def exported_digits(engine: Engine, user_id: int) -> list[ExportedDigit]:
    """Every digit the user sent, oldest first, without the photos' bytes."""
    query = select(*FIELDS, *DIGIT_COLUMNS).where(images.c.user_id == user_id).order_by(images.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [_exported(row) for row in rows]


def _exported(row: Row) -> ExportedDigit:
    fields = row._mapping
    values = {column.name: fields[column.name] for column in FIELDS}
    return ExportedDigit(**values, digit=read_digit(row))


def export_originals(engine: Engine, user_id: int, image_ids: Sequence[int]) -> dict[int, bytes]:
    """The photo's bytes of those rows that are the user's (and still there), by id: b"" but in
    a photo's first digit's row."""
    query = select(images.c.id, images.c.original).where(
        images.c.user_id == user_id, images.c.id.in_(image_ids)
    )
    with engine.connect() as connection:
        return {row.id: bytes(row.original) for row in connection.execute(query)}


def claim_export(engine: Engine, user_id: int, now: datetime, every: timedelta) -> datetime | None:
    """None when this call may export (``now`` is recorded), else when the user may again.

    The INSERT's ON CONFLICT updates the row only if the last export is ``every`` old, in one
    statement; a refused one still locks the row, so reading it back in the same transaction
    finds it.
    """
    statement = (
        upsert_insert(engine, user_exports)
        .values(user_id=user_id, exported_at=now)
        .on_conflict_do_update(
            index_elements=["user_id"],
            set_={"exported_at": now},
            where=user_exports.c.exported_at <= now - every,
        )
        .returning(user_exports.c.user_id)
    )
    last = select(user_exports.c.exported_at).where(user_exports.c.user_id == user_id)
    with engine.begin() as connection:
        if connection.execute(statement).first() is not None:
            return None
        return connection.execute(last).scalar_one() + every


def release_export(engine: Engine, user_id: int, claimed_at: datetime) -> None:
    """Undo a claim whose export failed, unless a later one replaced it. The export before it
    was ``every`` old, or the claim would have been refused, so forgetting it loses nothing."""
    with engine.begin() as connection:
        connection.execute(
            delete(user_exports).where(
                user_exports.c.user_id == user_id, user_exports.c.exported_at == claimed_at
            )
        )
