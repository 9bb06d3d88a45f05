"""Claims of scheduled job firings: each firing runs in one process, whatever their number.

Every replica's JobQueue fires the same schedule; the first to INSERT (job, fire time) runs
it, and the primary key refuses the others, however late their clocks fire.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from bot.storage.engine import upsert_insert
from bot.storage.schema import job_runs


def claim_job(engine: Engine, job: str, fire_time: datetime, owner: str, now: datetime) -> bool:
    """True for the one caller that claims this firing of ``job``."""
    statement = (
        upsert_insert(engine, job_runs)
        .values(job=job, fire_time=fire_time, claimed_by=owner, claimed_at=now)
        .on_conflict_do_nothing()
        .returning(job_runs.c.job)
    )
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


def previous_firing(engine: Engine, job: str, before: datetime) -> datetime | None:
    """The latest claimed firing of ``job`` before ``before`` (by any process), if any."""
    query = (
        select(job_runs.c.fire_time)
        .where(job_runs.c.job == job, job_runs.c.fire_time < before)
        .order_by(job_runs.c.fire_time.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar()
