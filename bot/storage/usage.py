"""The bytes of stored originals against the cap (STORAGE_CAP_GB), and the admins' alerts.

One row counts every stored original's bytes. Whatever keeps or erases an original takes
that row first in its transaction (`lock`), so on PostgreSQL as on SQLite those transactions
go one at a time: the count stays exact, a photo is checked against the cap with the count
as it is, and a sender's earlier copy of the same bytes cannot vanish while a new photo
relies on it. `alert` remembers the last level pushed, so each level is pushed once until
erasures bring the count back under it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, select, update

from bot.storage.records import StorageAlert
from bot.storage.schema import images, storage_usage

NEARLY_FULL_SHARE = 0.8  # of the cap: the admins are told once the originals fill this much
THE_ROW = storage_usage.c.id == 1  # the one row holding the count


class Level(IntEnum):
    """The alert last pushed (stored as its number)."""

    NONE = 0
    NEARLY_FULL = 1
    FULL = 2


class Usage(NamedTuple):
    """The count as the locking transaction read it."""

    original_bytes: int
    alert: Level


# Every photo saved runs these: built once, since building a statement costs more than
# running it. An UPDATE (of nothing) locks rather than a SELECT: SQLite takes its write lock at
# the first write, and a transaction that read first could not write after another had.
_LOCK = (
    update(storage_usage)
    .where(THE_ROW)
    .values(original_bytes=storage_usage.c.original_bytes)
    .returning(storage_usage.c.original_bytes, storage_usage.c.alert)
)
_WRITE = (
    update(storage_usage)
    .where(THE_ROW)
    .values(original_bytes=bindparam("total"), alert=bindparam("level"))
)


def lock(connection: Connection) -> Usage:
    """Hold the count until the transaction ends, and read it."""
    row = connection.execute(_LOCK).one()
    return Usage(row.original_bytes, Level(row.alert))


def fits(usage: Usage, size: int, cap: int | None) -> bool:
    """Whether `size` more bytes stay within the cap (None: no cap)."""
    return cap is None or usage.original_bytes + size <= cap


def kept(connection: Connection, usage: Usage, size: int, cap: int | None) -> StorageAlert | None:
    """Count `size` bytes kept; the alert to push when this made the originals nearly fill the
    cap for the first time."""
    total = usage.original_bytes + size
    crossed = (
        cap is not None and total >= NEARLY_FULL_SHARE * cap and usage.alert < Level.NEARLY_FULL
    )
    alert = Level.NEARLY_FULL if crossed else usage.alert
    _write(connection, total, alert)
    return StorageAlert(full=False, original_bytes=total, cap=cap) if crossed and cap else None


def refused(connection: Connection, usage: Usage, cap: int) -> StorageAlert | None:
    """An original did not fit: the alert to push, the first time since there was room."""
    if usage.alert >= Level.FULL:
        return None
    _write(connection, usage.original_bytes, Level.FULL)
    return StorageAlert(full=True, original_bytes=usage.original_bytes, cap=cap)


def freed(connection: Connection, usage: Usage, size: int, cap: int | None) -> None:
    """Count `size` bytes erased (or recounted away)."""
    _settle(connection, usage.original_bytes - size, usage.alert, cap)


def recount(connection: Connection, usage: Usage, cap: int | None) -> int:
    """Count the stored originals again from the images themselves (what a release without
    this count stored is then counted too); the new count."""
    total = connection.execute(select(func.coalesce(func.sum(images.c.size_bytes), 0))).scalar()
    _settle(connection, int(total or 0), usage.alert, cap)
    return int(total or 0)


def _settle(connection: Connection, total: int, alert: Level, cap: int | None) -> None:
    """Write the new count, and re-arm the alerts it is now under: below the nearly-full
    share both; with any room freed, the full one."""
    if cap is None or total < NEARLY_FULL_SHARE * cap:
        alert = Level.NONE
    elif alert == Level.FULL and total < cap:
        alert = Level.NEARLY_FULL
    _write(connection, total, alert)


def _write(connection: Connection, total: int, alert: Level) -> None:
    connection.execute(_WRITE, {"total": total, "level": int(alert)})
