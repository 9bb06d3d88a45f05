"""The JobQueue schedules: retraining, the status report, retention, model pick-up, and
counting users' answers per cluster.

Jobs have fixed names and are only added when no job of that name exists, so calling
`register_jobs` twice (a restart of the Application in one process) adds nothing twice.
Callbacks take only the context and reach the services through it.

Every replica on one database fires the same schedules. Retraining, the status report and
retention (which runs whatever RETENTION_DAYS: it also drops ended flood windows and counts
the stored bytes again) run once per firing: the firing's scheduled time is claimed in the
database and the replicas that lose the claim skip it without a word. Model pick-up and counting the
answers run everywhere (each replica keeps its own figures).
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

# The jobs' names: fixed, so a job is added once, and the key of a firing's claim.
RETRAIN_JOB = "retrain"
STATUS_JOB = "status-report"
RETENTION_JOB = "retention-purge"
PICK_UP_JOB = "model-pick-up"
MEANINGS_JOB = "clusters-answers"
MEANINGS_EVERY = timedelta(minutes=1)  # how often users' answers per cluster are counted again
RETENTION_CRON = "30 4 * * *"  # when retention runs, unless RETENTION_CRON says otherwise
PICK_UP_EVERY = timedelta(seconds=10)  # how often a replica checks the database's active model
# Crontab's weekday numbers (Sunday is 0 and 7) as APScheduler's names.
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A firing run later than this after its scheduled time is not run (APScheduler itself drops
# firings more than a second late, so this only bounds the search for the scheduled time).
_LATEST_RUN = timedelta(minutes=10)


def cron(expression: str, *, name: str, timezone: tzinfo = UTC) -> CronTrigger:
    """A trigger from crontab syntax ("0 3 * * 0": Sundays 03:00); ValueError names `name`.

    A sixth field in front counts seconds ("*/5 * * * * *": every five seconds), as in
    Quartz and systemd; tests use it for schedules that fire every few seconds.
    """
    try:
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise ValueError("it needs five fields")
        second = fields.pop(0) if len(fields) == 6 else "0"
        minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_crontab_weekdays(weekday),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ValueError(
            f'{name} "{expression}" is not crontab syntax (minute hour day month weekday, '
            f'e.g. "0 3 * * 0"): {exc}'
        ) from None


def _crontab_weekdays(field: str) -> str:
    """Rewrite crontab weekday numbers (Sunday = 0 or 7) as names.

    APScheduler 3 counts weekday numbers from Monday = 0, so "0 3 * * 0" would run on
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
    """When each job runs; `retention` None: no retention job (tests of the other jobs)."""

    retrain: BaseTrigger
    status: BaseTrigger
    retention: BaseTrigger | None = None
    retention_days: int = 0  # 0: images are kept until /forget
    # One single-row SELECT per replica: a promotion serves everywhere within seconds.
    pick_up_every: timedelta = PICK_UP_EVERY

    @classmethod
    def from_crontab(
        cls,
        retrain_cron: str,
        status_cron: str,
        retention_days: int,
        *,
        retention_cron: str = RETENTION_CRON,
        timezone: tzinfo = UTC,
    ) -> Schedules:
        """The schedules from the settings (RETRAIN_CRON, STATUS_CRON, RETENTION_DAYS,
        RETENTION_CRON)."""
        return cls(
            retrain=cron(retrain_cron, name="RETRAIN_CRON", timezone=timezone),
            status=cron(status_cron, name="STATUS_CRON", timezone=timezone),
            retention=cron(retention_cron, name="RETENTION_CRON", timezone=timezone),
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
        (STATUS_JOB, send_status_report, schedules.status, None),
        (
            PICK_UP_JOB,
            pick_up_model,
            IntervalTrigger(seconds=schedules.pick_up_every.total_seconds()),
            None,
        ),
        (
            MEANINGS_JOB,
            count_answers,
            IntervalTrigger(seconds=MEANINGS_EVERY.total_seconds()),
            None,
        ),
    ]
    if schedules.retention is not None:
        wanted.append(
            (RETENTION_JOB, purge_old_images, schedules.retention, schedules.retention_days)
        )
    for name, callback, trigger, data in wanted:
        if queue.get_jobs_by_name(name):
            continue
        queue.run_custom(callback, job_kwargs={"trigger": trigger}, data=data, name=name)
        log.info("scheduled %s: %s", name, trigger)


def scheduled_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The scheduled time of the firing running `now`: the trigger's latest fire time at or
    before `now` (None when there is none in the last ten minutes).

    Every replica computes the same time for the same firing, however late its clock fires.
    """
    fire = trigger.get_next_fire_time(None, now - _LATEST_RUN)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


async def _claim(context: BotContext, name: str) -> datetime | None:
    """This firing's scheduled time if this process won it, else None (another one runs it)."""
    assert context.job is not None
    fire_time = scheduled_time(context.job.job.trigger, datetime.now(UTC))
    if fire_time is None:
        log.warning("%s fired more than %s late; skipped", name, _LATEST_RUN)
        return None
    if not await context.storage.claim_job(name, fire_time, context.retrainer.owner):
        return None
    return fire_time


def _one_interval_before(trigger: BaseTrigger, fire_time: datetime) -> datetime:
    """The start of a period as long as the schedule's interval, ending at `fire_time`."""
    following = trigger.get_next_fire_time(None, fire_time + timedelta(seconds=1))
    if following is None or following <= fire_time:
        return fire_time - timedelta(days=1)
    return fire_time - (following - fire_time)


async def retrain_on_schedule(context: BotContext) -> None:
    """Start a scheduled retraining unless one is already running somewhere."""
    fire_time = await _claim(context, RETRAIN_JOB)
    if fire_time is None:
        return
    if not await context.retrainer.start(SCHEDULE):
        log.info("scheduled retraining of %s skipped: another run is in progress", fire_time)


async def send_status_report(context: BotContext) -> None:
    """Push what happened since the previous report (by any replica), with database figures."""
    assert context.job is not None
    fire_time = await _claim(context, STATUS_JOB)
    if fire_time is None:
        return
    since = await context.storage.previous_firing(STATUS_JOB, fire_time)
    if since is None:
        since = _one_interval_before(context.job.job.trigger, fire_time)
    now = datetime.now(UTC)
    report = await context.storage.status_report(since)
    await context.notifier.push(
        pushes.status_report(
            report,
            now=now,
            model_version=context.models.current.version,
            failed_pushes=context.notifier.take_failures(),
        )
    )
    log.info("status report of %s pushed", fire_time)


async def purge_old_images(context: BotContext) -> None:
    """Erase images older than RETENTION_DAYS (0: none), and the flood limit's ended windows
    (they only say when a user was last active); count the stored bytes again, so that what a
    release without that count stored (during a rolling upgrade) is counted too."""
    assert context.job is not None
    days: int = context.job.data  # type: ignore[assignment]
    fire_time = await _claim(context, RETENTION_JOB)
    if fire_time is None:
        return
    erased = 0
    if days:
        erased = await context.storage.purge_older_than(datetime.now(UTC) - timedelta(days=days))
    dropped = await context.storage.drop_ended_windows()
    stored = await context.storage.recount_stored_bytes()
    log.info(
        "retention of %s: erased %d images older than %d days, %d ended flood windows; "
        "%d bytes of originals stored",
        fire_time,
        erased,
        days,
        dropped,
        stored,
    )


async def pick_up_model(context: BotContext) -> None:
    """Serve the model another process promoted (several bots on one database)."""
    await context.model_pickup.pick_up()


async def count_answers(context: BotContext) -> None:
    """Count users' answers per cluster again: those given to other replicas, and the served
    model's clusters once it changed."""
    context.meanings.request_refresh()
