"""Counts for /stats and the periodic status report, computed in SQL where rows are many.

A photo's first digit's row (`FIRST_DIGIT`) stands for the photo; clusters, outliers and
feedback count digits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, func, select, true

from bot.storage.records import Accuracy, GlobalStats, StatusReport, UserStats
from bot.storage.retrains import last_retrain, retrains_since
from bot.storage.schema import FIRST_DIGIT, cluster_names, images, model_versions, storage_usage


def user_stats(engine: Engine, user_id: int) -> UserStats:
    """One user's own counts; nothing about anybody else."""
    mine = images.c.user_id == user_id
    with engine.connect() as connection:
        row = connection.execute(
            select(
                func.count(),
                func.count(images.c.feedback_digit),
                func.min(images.c.received_at),
                func.max(images.c.received_at),
            )
            .select_from(images)
            .where(mine)
        ).one()
        return UserStats(
            images=row[0],
            per_cluster=_per_cluster(connection, mine),
            outliers=_count(connection, mine, images.c.is_outlier.is_(True)),
            feedback=row[1],
            first_at=row[2],
            last_at=row[3],
            photos=_count(connection, mine, FIRST_DIGIT),
        )


def global_stats(engine: Engine, now: datetime) -> GlobalStats:
    """Totals over every user; ``today`` starts at midnight in ``now``'s timezone."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    everything = true()
    with engine.connect() as connection:
        totals = connection.execute(
            select(func.count(), func.count(func.distinct(images.c.user_id))).select_from(images)
        ).one()
        per_cluster = _per_cluster(connection, everything)
        photos = _count(connection, FIRST_DIGIT)
        today = _count(connection, FIRST_DIGIT, images.c.received_at >= midnight)
        accuracy = live_accuracy(connection, everything)
    return GlobalStats(
        images=totals[0],
        photos=photos,
        users=totals[1],
        per_cluster=per_cluster,
        today=today,
        accuracy=accuracy,
        last_retrain=last_retrain(engine),
    )


def status_report(engine: Engine, since: datetime) -> StatusReport:
    """Photos, users, clusters and accuracy since ``since``; bytes of every stored original (as
    counted for the cap, no scan)."""
    recent = images.c.received_at >= since
    with engine.connect() as connection:
        period = connection.execute(
            select(func.count(), func.count(func.distinct(images.c.user_id)))
            .select_from(images)
            .where(recent, FIRST_DIGIT)
        ).one()
        stored_bytes = connection.execute(select(storage_usage.c.original_bytes)).scalar()
        per_cluster = _per_cluster(connection, recent)
        outliers = _count(connection, recent, images.c.is_outlier.is_(True))
        accuracy = live_accuracy(connection, recent)
    return StatusReport(
        since=since,
        photos=period[0],
        active_users=period[1],
        per_cluster=per_cluster,
        outliers=outliers,
        accuracy=accuracy,
        original_bytes=int(stored_bytes or 0),
        retrains=retrains_since(engine, since),
    )


def live_accuracy(connection: Connection, where: ColumnElement[bool]) -> Accuracy:
    """Feedback digits that match their cluster's name or the model's cluster->digit mapping.

    Each image is judged by the mapping of the model version that assigned it, since cluster
    ids can move between versions; a name counts when it holds exactly one distinct digit.
    """
    groups = connection.execute(
        select(images.c.model_version, images.c.cluster, images.c.feedback_digit, func.count())
        .where(where, images.c.feedback_digit.is_not(None))
        .group_by(images.c.model_version, images.c.cluster, images.c.feedback_digit)
    ).all()
    versions = {group[0] for group in groups}
    mappings = {
        row.version: (row.metadata or {}).get("cluster_to_digit") or {}
        for row in connection.execute(
            select(model_versions).where(model_versions.c.version.in_(versions))
        )
    }
    named = {row.cluster: name_digit(row.name) for row in connection.execute(select(cluster_names))}
    feedback = matching = 0
    for version, cluster, digit, count in groups:
        feedback += count
        mapped = mappings.get(version, {}).get(str(cluster))
        if digit in {named.get(cluster), None if mapped is None else int(mapped)}:
            matching += count
    return Accuracy(feedback=feedback, matching=matching)


def name_digit(name: str) -> int | None:
    """The digit a cluster name stands for ("7", "7s", "crossed 7"), if it names just one."""
    digits = {char for char in name if char.isdecimal() and char.isascii()}
    return int(digits.pop()) if len(digits) == 1 else None


def _per_cluster(connection: Connection, where: ColumnElement[bool]) -> dict[int, int]:
    query = (
        select(images.c.cluster, func.count())
        .where(where)
        .group_by(images.c.cluster)
        .order_by(images.c.cluster)
    )
    return {cluster: count for cluster, count in connection.execute(query)}


def _count(connection: Connection, *where: ColumnElement[bool]) -> int:
    return connection.execute(select(func.count()).select_from(images).where(*where)).scalar_one()
