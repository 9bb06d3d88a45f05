"""What the admins' /stats picture shows: photos per cluster and day, and the live feedback.

Counted in SQL (grouped by day, cluster and digit), so a month of photos costs a few hundred
rows, not one per photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Engine, func, select

from bot.storage.records import Accuracy
from bot.storage.schema import images
from bot.storage.stats import live_accuracy


@dataclass(frozen=True)
class Activity:
    """`days` are the UTC days of the period, oldest first; `photos` counts the images of each
    (day, cluster) that were not outliers, `outliers` those that were, per day; `feedback`
    counts each (cluster, digit the user said) over all time, as `accuracy` does."""

    days: list[date]
    photos: dict[tuple[date, int], int]
    outliers: dict[date, int]
    feedback: dict[tuple[int, int], int]
    accuracy: Accuracy


def count_activity(engine: Engine, now: datetime, days: int) -> Activity:
    """The last `days` UTC days up to `now`'s, and the feedback so far."""
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    since = datetime.combine(first, time(), tzinfo=UTC)
    day = _utc_day(engine.dialect.name)
    with engine.connect() as connection:
        rows = connection.execute(
            select(day, images.c.cluster, images.c.is_outlier, func.count())
            .where(images.c.received_at >= since)
            .group_by(day, images.c.cluster, images.c.is_outlier)
        ).all()
        said = connection.execute(
            select(images.c.cluster, images.c.feedback_digit, func.count())
            .where(images.c.feedback_digit.is_not(None))
            .group_by(images.c.cluster, images.c.feedback_digit)
        ).all()
        accuracy = live_accuracy(connection, images.c.feedback_digit.is_not(None))
    photos: dict[tuple[date, int], int] = {}
    outliers: dict[date, int] = {}
    for value, cluster, is_outlier, count in rows:
        when = date.fromisoformat(value) if isinstance(value, str) else value
        if is_outlier:
            outliers[when] = outliers.get(when, 0) + count
        else:
            photos[(when, cluster)] = photos.get((when, cluster), 0) + count
    return Activity(
        days=[first + timedelta(days=n) for n in range(days)],
        photos=photos,
        outliers=outliers,
        feedback={(cluster, digit): count for cluster, digit, count in said},
        accuracy=accuracy,
    )


def _utc_day(dialect: str) -> ColumnElement[date]:
    """The UTC day an image was received (SQLite stores UTC without an offset)."""
    if dialect == "sqlite":
        return func.date(images.c.received_at)
    return func.date(func.timezone("UTC", images.c.received_at))
