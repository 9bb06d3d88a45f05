"""JobQueue schedules on a real Application (against FakeTelegram), store and notifier.

Near-future DateTriggers stand in for the crontab schedules, so nothing waits for a
minute boundary; the crontab parsing is tested on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apscheduler.triggers.date import DateTrigger
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.context import MODEL_PICKUP, MODELS, NOTIFIER, RETRAINER, STORAGE, BotContext
from bot.digit import RecognisedDigit
from bot.jobs import (
    MEANINGS_JOB,
    PICK_UP_JOB,
    RETENTION_JOB,
    RETRAIN_JOB,
    STATUS_JOB,
    Schedules,
    cron,
    register_jobs,
)
from bot.model_pickup import ModelPickup
from bot.model_provider import ModelProvider
from bot.model_versions import ModelVersions
from bot.notify import Notifier
from bot.pushes import Push
from bot.quality_gate import QualityGate
from bot.retrain import Retrainer, RetrainOptions
from bot.storage import IncomingImage, Storage, open_storage
from testkit.fake_notify import FakeNotifyRun
from testkit.fake_telegram import FakeTelegram

TOKEN = "123456789:AAHjobsTOKENthatISlongENOUGH_01234567"
ADMIN_ID = 9001
NEVER = DateTrigger(datetime(2100, 1, 1, tzinfo=UTC))


@dataclass
class Bot:
    """A started Application with the services its jobs use."""

    application: Application[Any, Any, Any, Any, Any, Any]
    telegram: FakeTelegram
    storage: Storage
    provider: ModelProvider
    notifier: Notifier
    retrainer: Retrainer
    models_dir: Path


@pytest.fixture
async def bot(
    tmp_path: Path, model_path: Path, mnist_dir: Path, fake_notify: FakeNotifyRun
) -> AsyncIterator[Bot]:
    storage = await open_storage(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    provider = ModelProvider(tmp_path / "models", model_path)
    model = await provider.run(provider.reload)
    await storage.record_model(model.version, model.metadata)
    notifier = Notifier(fake_notify.url, attempts=2, backoff=0.01)
    async with FakeTelegram(TOKEN) as telegram:
        application = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{telegram.base_url}/bot")
            .context_types(ContextTypes(context=BotContext))
            .build()
        )
        retrainer = Retrainer(
            storage,
            provider,
            notifier,
            tmp_path / "models",
            gate=QualityGate(min_acc=0.3, acc_margin=1.0, max_moved=1.0),
            options=RetrainOptions(mnist_dir=mnist_dir, limit=1000, heartbeat_every=1.0),
            bot=application.bot,
        )
        application.bot_data.update(
            {
                STORAGE: storage,
                MODELS: provider,
                NOTIFIER: notifier,
                RETRAINER: retrainer,
                MODEL_PICKUP: ModelPickup(storage, provider, ModelVersions(tmp_path / "models")),
            }
        )
        async with application:
            await notifier.start()
            await application.start()
            yield Bot(
                application, telegram, storage, provider, notifier, retrainer, tmp_path / "models"
            )
            await application.stop()
            await retrainer.close()
            await notifier.close()
    provider.close()
    await storage.close()


def _soon(seconds: float = 0.3) -> DateTrigger:
    return DateTrigger(datetime.now(UTC) + timedelta(seconds=seconds))


async def _until(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll `condition` until it holds; the bound only stops a broken test from hanging."""
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def _save(storage: Storage, user: int, message: int, cluster: int, **extra: Any) -> int:
    image = IncomingImage(
        chat_id=user,
        user_id=user,
        message_id=message,
        received_at=extra.get("received_at", datetime.now(UTC)),
        original=b"\x89PNG" + message.to_bytes(4, "big") + bytes(92),  # 100 bytes, its own
        mime_type="image/png",
        digit=RecognisedDigit(
            mnist=np.zeros((28, 28), np.uint8),
            cluster=cluster,
            distance=1.0,
            typicality=0.5,
            is_outlier=extra.get("is_outlier", False),
        ),
        model_version=extra["version"],
    )
    return (await storage.save_image(image)).image_id


@pytest.mark.parametrize(
    ("weekday", "next_day"),
    [("0", 29), ("7", 29), ("1", 23), ("1-5", 23), ("6,0", 28), ("*/3", 25), ("sat", 28)],
)
def test_crontab_weekdays_count_from_sunday(weekday: str, next_day: int) -> None:
    trigger = cron(f"0 12 * * {weekday}", name="RETRAIN_CRON")
    sunday_evening = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, sunday_evening) == datetime(
        2026, 11, next_day, 12, 0, tzinfo=UTC
    )


def test_crontab_defaults_and_errors() -> None:
    schedules = Schedules.from_crontab("0 3 * * 0", "0 9 * * *", 0)
    monday = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert schedules.retrain.get_next_fire_time(None, monday) == datetime(
        2026, 11, 29, 3, 0, tzinfo=UTC
    )
    assert schedules.status.get_next_fire_time(None, monday) == datetime(
        2026, 11, 24, 9, 0, tzinfo=UTC
    )
    assert schedules.retention is not None  # images kept, but windows dropped, bytes counted
    assert schedules.retention.get_next_fire_time(None, monday) == datetime(
        2026, 11, 24, 4, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match='RETRAIN_CRON "every sunday" is not crontab syntax'):
        cron("every sunday", name="RETRAIN_CRON")
    with pytest.raises(ValueError, match="out of 0-7"):
        cron("0 3 * * 8", name="STATUS_CRON")


async def test_jobs_are_registered_once_under_fixed_names(bot: Bot) -> None:
    schedules = Schedules(retrain=NEVER, status=NEVER, retention=NEVER, retention_days=30)
    register_jobs(bot.application, schedules)
    register_jobs(bot.application, schedules)
    queue = bot.application.job_queue
    assert queue is not None
    names = [job.name for job in queue.jobs()]
    assert sorted(names) == sorted(
        [RETRAIN_JOB, STATUS_JOB, RETENTION_JOB, PICK_UP_JOB, MEANINGS_JOB]
    )


async def test_status_report_figures_match_the_database(
    bot: Bot, fake_notify: FakeNotifyRun
) -> None:
    version = bot.provider.current.version
    mapping = bot.provider.current.metadata["cluster_to_digit"]
    rated = await _save(bot.storage, 1, 10, 4, version=version)
    wrong = await _save(bot.storage, 1, 11, 4, version=version)
    await _save(bot.storage, 2, 12, 7, version=version, is_outlier=True)
    assert await bot.storage.set_feedback(rated, 1, mapping["4"])
    assert await bot.storage.set_feedback(wrong, 1, (mapping["4"] + 1) % 10)
    fake_notify.fail_next(2, 500)
    await bot.notifier.push(Push.of_text("lost on the way"))
    await bot.notifier.flush()

    register_jobs(bot.application, Schedules(retrain=NEVER, status=_soon()))
    [post] = await asyncio.to_thread(fake_notify.wait_for_posts, 1)

    lines = post.message.splitlines()
    assert lines[0] == "📊 3 photos from 2 users in 24h · live accuracy 50% (2 answers rated)"
    assert lines[1] == "per cluster: 4:2 7:1 · outliers 1"
    assert lines[2] == f"model {version} · 300 B stored · 1 push failed"
    report = await bot.storage.status_report(datetime.now(UTC) - timedelta(days=1))
    assert (report.photos, report.active_users, report.original_bytes) == (3, 2, 300)


async def test_retention_erases_only_old_images_and_ended_flood_windows(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    version = bot.provider.current.version
    old = datetime.now(UTC) - timedelta(days=40)
    await _save(bot.storage, 1, 1, 0, version=version, received_at=old)
    await _save(bot.storage, 1, 2, 0, version=version)
    await bot.storage.count_update(1, 0.1)
    await bot.storage.count_update(2, 3600.0)
    schedules = Schedules(retrain=NEVER, status=NEVER, retention=_soon(), retention_days=30)
    caplog.set_level(logging.INFO, logger="bot.jobs")
    register_jobs(bot.application, schedules)
    now = datetime.now(UTC)

    async def one_image_left() -> bool:
        return (await bot.storage.global_stats(now)).images == 1

    async def ended_window_dropped() -> bool:
        return any(", 1 ended flood windows;" in r.getMessage() for r in caplog.records)

    await _until(one_image_left)
    await _until(ended_window_dropped)
    assert await bot.storage.recount_stored_bytes() == 100


async def test_pick_up_job_serves_a_model_promoted_elsewhere(
    bot: Bot, model_as_version: Callable[[Path, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    bot.models_dir.mkdir(parents=True, exist_ok=True)
    promoted = await asyncio.to_thread(
        model_as_version, bot.models_dir / "promoted-elsewhere.npz", "promoted-elsewhere"
    )
    await bot.storage.set_active_model("promoted-elsewhere", str(promoted))
    every = timedelta(seconds=0.1)
    register_jobs(bot.application, Schedules(retrain=NEVER, status=NEVER, pick_up_every=every))

    async def swapped() -> bool:
        return bot.provider.current.version == "promoted-elsewhere"

    await _until(swapped)
    picked = bot.provider.current
    assert bot.provider.current_path == promoted

    # Later ticks see the version they serve and read nothing: not even a file gone since.
    promoted.unlink()
    caplog.clear()
    assert bot.application.job_queue is not None
    [job] = bot.application.job_queue.get_jobs_by_name(PICK_UP_JOB)
    assert job.next_t is not None
    two_ticks_on = job.next_t + 2 * every

    async def two_more_ticks() -> bool:
        return job.next_t is not None and job.next_t > two_ticks_on

    with caplog.at_level(logging.INFO, logger="bot"):
        await _until(two_more_ticks)
    assert bot.provider.current is picked
    assert caplog.records == []


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_scheduled_retrain_swaps_the_model_and_pushes_in_order(
    bot: Bot, fake_notify: FakeNotifyRun
) -> None:
    serving = bot.provider.current
    await _save(bot.storage, 1, 1, 3, version=serving.version)
    register_jobs(bot.application, Schedules(retrain=_soon(), status=NEVER))
    posts = await asyncio.to_thread(fake_notify.wait_for_posts, 2, 900)
    assert await bot.retrainer.wait() == "succeeded"

    started, finished = (post.message for post in posts)
    assert started == "🔄 Retraining started (schedule)"
    assert finished.startswith("✅ Retrained in ")
    assert "1,000 MNIST + 1 user images" in finished
    new = bot.provider.current
    assert new is not serving
    assert f"model {new.version}" in finished
    assert await bot.storage.active_model() == (
        new.version,
        str(bot.models_dir / f"{new.version}.npz"),
    )
    assert (bot.models_dir / f"{new.version}.npz").is_file()
    run = await bot.storage.last_retrain()
    assert run is not None
    assert (run.trigger, run.outcome) == ("schedule", "succeeded")
