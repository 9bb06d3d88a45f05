"""The JobQueue schedules: retraining, the status report, retention, model pick-up.

Jobs have fixed names and are only added when no job of that name exists, so calling
`register_jobs` twice (a restart of the Application in one process) adds nothing twice.
Callbacks take only the context and reach the services through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import pushes
from bot.retrain import SCHEDULE

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.context import BotContext

log = logging.getLogger(__name__)

RETRAIN_JOB = "retrain"
STATUS_JOB = "status-report"
RETENTION_JOB = "retention-purge"
PICK_UP_JOB = "model-pick-up"
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron(expression: str, *, name: str, timezone: tzinfo = UTC) -> CronTrigger:
    """A trigger from crontab syntax ("0 3 * * 0": Sundays 03:00); ValueError names `name`."""
    try:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError("it needs five fields")
        fields[4] = _crontab_weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except ValueError as exc:
        raise ValueError(
            f'{name} "{expression}" is not crontab syntax (minute hour day month weekday, '
            f'e.g. "0 3 * * 0"): {exc}'
        ) from None


def _crontab_weekdays(field: str) -> str:
    """Rewrite crontab weekday numbers (Sunday = 0 or 7) as names.

    APScheduler 3's `from_crontab` counts from Monday = 0, so "0 3 * * 0" would run on
    Mondays; names mean the same day in both.
    """
    if field == "*":
        return field
    days: list[str] = []
    for part in field.split(","):
        span, _, step = part.partition("/")
        first, dash, last = span.partition("-")
        if span == "*":
            first, last = "0", "6"
        elif not first.isdigit() or (dash and not last.isdigit()):
            days.append(part)
            continue
        stop = int(last) if dash or span == "*" else (6 if step else int(first))
        if not 0 <= int(first) <= stop <= 7 or (step and not step.isdigit()):
            raise ValueError(f"weekday {part!r} is out of 0-7")
        days += [_WEEKDAYS[day] for day in range(int(first), stop + 1, int(step or 1))]
    return ",".join(dict.fromkeys(days))


@dataclass(frozen=True)
class Schedules:
    """When each job runs. `retention` is None unless RETENTION_DAYS is set."""

    retrain: BaseTrigger
    status: BaseTrigger
    retention: BaseTrigger | None = None
    retention_days: int | None = None
    pick_up_every: timedelta = timedelta(minutes=1)

    @classmethod
    def from_crontab(
        cls,
        retrain_cron: str,
        status_cron: str,
        retention_days: int | None,
        *,
        timezone: tzinfo = UTC,
    ) -> Schedules:
        """The schedules from the settings (RETRAIN_CRON, STATUS_CRON, RETENTION_DAYS)."""
        return cls(
            retrain=cron(retrain_cron, name="RETRAIN_CRON", timezone=timezone),
            status=cron(status_cron, name="STATUS_CRON", timezone=timezone),
            retention=cron("30 4 * * *", name="retention", timezone=timezone)
            if retention_days
            else None,
            retention_days=retention_days,
        )


def register_jobs(
    application: Application[Any, Any, Any, Any, Any, Any], schedules: Schedules
) -> None:
    """Add the jobs that are not there yet; needs `python-telegram-bot[job-queue]`."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("the JobQueue is missing: install python-telegram-bot[job-queue]")
    wanted: list[tuple[str, Any, BaseTrigger, object]] = [
        (RETRAIN_JOB, retrain_on_schedule, schedules.retrain, None),
        (STATUS_JOB, send_status_report, schedules.status, StatusPeriod(schedules.status)),
        (
            PICK_UP_JOB,
            pick_up_model,
            IntervalTrigger(seconds=schedules.pick_up_every.total_seconds()),
            None,
        ),
    ]
    if schedules.retention is not None and schedules.retention_days:
        wanted.append(
            (RETENTION_JOB, purge_old_images, schedules.retention, schedules.retention_days)
        )
    for name, callback, trigger, data in wanted:
        if queue.get_jobs_by_name(name):
            continue
        queue.run_custom(callback, job_kwargs={"trigger": trigger}, data=data, name=name)
        log.info("scheduled %s: %s", name, trigger)


class StatusPeriod:
    """The period a status report covers: since the previous report, or one interval of the
    schedule for the first report after a start.
    """

    def __init__(self, trigger: BaseTrigger) -> None:
        self.trigger = trigger
        self.last: datetime | None = None

    def since(self, now: datetime) -> datetime:
        """The start of the period ending `now`."""
        if self.last is not None:
            return self.last
        following = self.trigger.get_next_fire_time(None, now + timedelta(seconds=1))
        if following is None or following <= now:
            return now - timedelta(days=1)
        return now - (following - now)


async def retrain_on_schedule(context: BotContext) -> None:
    """Start a scheduled retraining unless one is already running somewhere."""
    if not await context.retrainer.start(SCHEDULE):
        log.info("scheduled retraining skipped: another run is in progress")


async def send_status_report(context: BotContext) -> None:
    """Push what happened since the last report, with figures from the database."""
    assert context.job is not None
    period: StatusPeriod = context.job.data  # type: ignore[assignment]
    now = datetime.now(UTC)
    report = await context.storage.status_report(period.since(now))
    period.last = now
    await context.notifier.push(
        pushes.status_report(
            report,
            now=now,
            model_version=context.models.current.version,
            failed_pushes=context.notifier.take_failures(),
        )
    )


async def purge_old_images(context: BotContext) -> None:
    """Erase images older than RETENTION_DAYS."""
    assert context.job is not None
    days: int = context.job.data  # type: ignore[assignment]
    erased = await context.storage.purge_older_than(datetime.now(UTC) - timedelta(days=days))
    log.info("retention: erased %d images older than %d days", erased, days)


async def pick_up_model(context: BotContext) -> None:
    """Serve the model another process promoted (several bots on one database)."""
    await context.retrainer.pick_up_active_model()
