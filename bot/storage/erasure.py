"""Erasing images: a user's /forget, and retention (synchronous SQL).

A picture its sender sent again is stored once, by the first such photo (images.repeated).
/forget erases a user's photos all together, so nothing of theirs is left pointing at bytes
that are gone. Retention erases by age, so before the first photo goes, its bytes and its
part as the first are handed over to the newest photo of the same bytes that stays. Both
keep the count of stored bytes exact, under its lock (`usage.lock`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, exists, or_, select, tuple_, update

from bot.storage import usage
from bot.storage.schema import FIRST_DIGIT, cluster_names, flood_windows, images, user_exports


def forget_user(engine: Engine, user_id: int, cap: int | None) -> int:
    """Erase the user's images, flood count and the time of their last export, and unlink their
    name from cluster names they set; returns how many photos were erased (with every digit of
    each)."""
    with engine.begin() as connection:
        count = usage.lock(connection)
        erased = connection.execute(
            delete(images)
            .where(images.c.user_id == user_id)
            .returning(images.c.digit_index, images.c.size_bytes)
        ).all()
        connection.execute(delete(flood_windows).where(flood_windows.c.user_id == user_id))
        connection.execute(delete(user_exports).where(user_exports.c.user_id == user_id))
        connection.execute(
            update(cluster_names).where(cluster_names.c.set_by == user_id).values(set_by=None)
        )
        usage.freed(connection, count, sum(row.size_bytes for row in erased), cap)
    _flush_erased(engine)
    return sum(row.digit_index == 0 for row in erased)


def purge_older_than(engine: Engine, cutoff: datetime, cap: int | None) -> int:
    """Delete images received before ``cutoff``, and exports made before it; returns how many
    images."""
    with engine.begin() as connection:
        count = usage.lock(connection)
        handed_over = _hand_over_firsts(connection, cutoff)
        sizes = connection.execute(
            delete(images).where(images.c.received_at < cutoff).returning(images.c.size_bytes)
        ).scalars()
        purged = list(sizes)
        connection.execute(delete(user_exports).where(user_exports.c.exported_at < cutoff))
        usage.freed(connection, count, sum(purged) - handed_over, cap)
    _flush_erased(engine)
    return len(purged)


def recount_stored_bytes(engine: Engine, cap: int | None) -> int:
    """Count the stored originals' bytes again from the images; the count."""
    with engine.begin() as connection:
        return usage.recount(connection, usage.lock(connection), cap)


def _hand_over_firsts(connection: Connection, cutoff: datetime) -> int:
    """For each first photo of some bytes (or the one holding them) about to be purged while a
    photo of the same bytes from the same user stays, make the newest that stays the first,
    with the bytes; returns the bytes handed over."""
    staying = images.alias("staying")
    same_bytes_stays = exists().where(
        staying.c.user_id == images.c.user_id,
        staying.c.sha256 == images.c.sha256,
        staying.c.digit_index == 0,
        staying.c.received_at >= cutoff,
    )
    leaving = connection.execute(
        select(images.c.id, images.c.user_id, images.c.sha256, images.c.size_bytes).where(
            images.c.received_at < cutoff,
            FIRST_DIGIT,
            or_(images.c.size_bytes > 0, images.c.repeated.is_(False)),
            same_bytes_stays,
        )
    ).all()
    handed_over = 0
    for first in leaving:
        heir = connection.execute(
            select(images.c.id, images.c.chat_id, images.c.message_id, images.c.size_bytes)
            .where(
                images.c.user_id == first.user_id,
                images.c.sha256 == first.sha256,
                FIRST_DIGIT,
                images.c.received_at >= cutoff,
            )
            .order_by(images.c.id.desc())
            .limit(1)
        ).one()
        connection.execute(
            update(images)
            .where(tuple_(images.c.chat_id, images.c.message_id) == (heir.chat_id, heir.message_id))
            .values(repeated=False)
        )
        if first.size_bytes and not heir.size_bytes:
            original = select(staying.c.original).where(staying.c.id == first.id)
            connection.execute(
                update(images)
                .where(images.c.id == heir.id)
                .values(original=original.scalar_subquery(), size_bytes=first.size_bytes)
            )
            handed_over += first.size_bytes
    return handed_over


def _flush_erased(engine: Engine) -> None:
    """Make erasure real on disk: SQLite's WAL still holds the erased pages until a checkpoint.

    secure_delete has zeroed the freed pages; the checkpoint writes them into the file and
    truncates the WAL. PostgreSQL's (auto)vacuum reclaims dead rows on its own schedule.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
