"""Retraining runs: a lock the database enforces across processes, heartbeats and outcomes.

The partial unique index ``uq_retrain_runs_one_running`` admits one row in state "running";
starting a run is an INSERT that the database either accepts or refuses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, Row, func, select, update

from bot.storage.engine import upsert_insert
from bot.storage.records import RetrainRun
from bot.storage.schema import FINISHED, RUNNING, retrain_runs

STALE_OUTCOME = "failed"  # the outcome of a run whose heartbeats stopped


def try_start_retrain(engine: Engine, trigger: str, owner: str, now: datetime) -> int | None:
    """The new run's id, or None when another run (of any process) is still running."""
    statement = (
        upsert_insert(engine, retrain_runs)
        .values(trigger=trigger, owner=owner, state=RUNNING, started_at=now, heartbeat_at=now)
        .on_conflict_do_nothing()
        .returning(retrain_runs.c.id)
    )
    with engine.begin() as connection:
        return connection.execute(statement).scalar()


def heartbeat_retrain(engine: Engine, run_id: int, now: datetime) -> bool:
    """Show the run is alive; False when it is no longer running (e.g. declared stale)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(retrain_runs)
            .where(retrain_runs.c.id == run_id, retrain_runs.c.state == RUNNING)
            .values(heartbeat_at=now)
        )
        return result.rowcount == 1


def finish_retrain(
    engine: Engine,
    run_id: int,
    outcome: str,
    detail: str,
    metrics: dict | None,
    now: datetime,
) -> bool:
    """Close a running run and release the lock; False when it was not running any more."""
    if not outcome or outcome == RUNNING:
        raise ValueError(f"an outcome such as 'succeeded' or 'failed' is needed, got {outcome!r}")
    with engine.begin() as connection:
        result = connection.execute(
            update(retrain_runs)
            .where(retrain_runs.c.id == run_id, retrain_runs.c.state == RUNNING)
            .values(
                state=FINISHED, finished_at=now, outcome=outcome, detail=detail, metrics=metrics
            )
        )
        return result.rowcount == 1


def fail_stale_retrains(engine: Engine, older_than: timedelta, now: datetime) -> int:
    """Mark runs without a heartbeat for ``older_than`` failed, so a crash frees the lock."""
    cutoff = now - older_than
    last_sign = func.coalesce(retrain_runs.c.heartbeat_at, retrain_runs.c.started_at)
    with engine.begin() as connection:
        result = connection.execute(
            update(retrain_runs)
            .where(retrain_runs.c.state == RUNNING, last_sign < cutoff)
            .values(
                state=FINISHED,
                finished_at=now,
                outcome=STALE_OUTCOME,
                detail=f"no heartbeat for {older_than}; the retraining process probably died",
            )
        )
        return result.rowcount


def last_retrain(engine: Engine) -> RetrainRun | None:
    """The most recently started run, running or finished."""
    query = select(retrain_runs).order_by(retrain_runs.c.id.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else to_run(row)


def retrains_since(engine: Engine, since: datetime) -> list[RetrainRun]:
    """Runs started at or after ``since``, oldest first."""
    query = (
        select(retrain_runs).where(retrain_runs.c.started_at >= since).order_by(retrain_runs.c.id)
    )
    with engine.connect() as connection:
        return [to_run(row) for row in connection.execute(query)]


def to_run(row: Row) -> RetrainRun:
    """A row of retrain_runs as a plain value (columns and fields share their names)."""
    return RetrainRun(**row._mapping)
