"""The scheduled time of a firing, which every replica must compute alike to claim it once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger

from bot.jobs import cron, scheduled_time

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("late_by", "expected"),
    [(timedelta(0), NOON), (timedelta(seconds=0.4), NOON), (timedelta(seconds=4.9), NOON)],
)
def test_a_firing_run_late_keeps_its_scheduled_time(late_by: timedelta, expected: datetime) -> None:
    every_five_seconds = cron("*/5 * * * * *", name="STATUS_CRON")
    assert scheduled_time(every_five_seconds, NOON + late_by) == expected
    assert scheduled_time(every_five_seconds, NOON + late_by + timedelta(seconds=5)) == (
        expected + timedelta(seconds=5)
    )


def test_weekly_and_one_off_triggers() -> None:
    sunday_3am = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    weekly = cron("0 3 * * 0", name="RETRAIN_CRON")
    assert scheduled_time(weekly, sunday_3am + timedelta(seconds=0.7)) == sunday_3am
    assert scheduled_time(weekly, sunday_3am + timedelta(minutes=11)) is None
    once = DateTrigger(NOON)
    assert scheduled_time(once, NOON + timedelta(seconds=0.2)) == NOON
    assert scheduled_time(once, NOON - timedelta(seconds=1)) is None


def test_a_sixth_field_counts_seconds_and_seven_are_refused() -> None:
    trigger = cron("30 0 9 * * *", name="STATUS_CRON")
    assert trigger.get_next_fire_time(None, NOON) == datetime(2026, 12, 2, 9, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match='STATUS_CRON "1 2 3 4 5 6 7" is not crontab syntax'):
        cron("1 2 3 4 5 6 7", name="STATUS_CRON")
