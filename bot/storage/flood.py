"""The flood limit's counts: each user's updates in a fixed window, one upsert per update.

A window starts with a user's first update and lasts `period`; the update arriving after it
has ended starts the next one. One INSERT ... ON CONFLICT DO UPDATE ... RETURNING both counts
the update and reads the count, atomically on SQLite and PostgreSQL alike, so replicas never
disagree about it and the update that crosses the limit is the same for all of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Engine, bindparam, case, delete

from bot.storage.engine import dialect_insert
from bot.storage.records import FloodWindow
from bot.storage.schema import flood_windows


def count_update(engine: Engine, user_id: int, now: datetime, period: float) -> FloodWindow:
    """Count one update of the user's and return their window as it now is.

    Meant for an autocommit engine: the statement is its own transaction, a single round
    trip to the server.
    """
    parameters = {"user": user_id, "now": now, "ends": now + timedelta(seconds=period)}
    with engine.connect() as connection:
        row = connection.execute(_counting(engine.dialect.name), parameters).one()
    return FloodWindow(updates=row.updates, ends_at=row.ends_at)


@cache
def _counting(dialect: str) -> Any:
    """The upsert that counts an update, built once per dialect: every update runs it, and
    building a statement costs more than running it."""
    ended = flood_windows.c.ends_at <= bindparam("now")
    insert = dialect_insert(dialect, flood_windows).values(
        user_id=bindparam("user"), ends_at=bindparam("ends"), updates=1
    )
    return insert.on_conflict_do_update(
        index_elements=[flood_windows.c.user_id],
        set_={
            "updates": case((ended, 1), else_=flood_windows.c.updates + 1),
            "ends_at": case((ended, insert.excluded.ends_at), else_=flood_windows.c.ends_at),
        },
    ).returning(flood_windows.c.updates, flood_windows.c.ends_at)


def drop_ended_windows(engine: Engine, now: datetime) -> int:
    """Delete the windows that ended (they only say when a user was last active); how many."""
    with engine.begin() as connection:
        return connection.execute(
            delete(flood_windows).where(flood_windows.c.ends_at <= now)
        ).rowcount
