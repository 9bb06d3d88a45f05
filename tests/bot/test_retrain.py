"""Retrainer with the real store, model provider, notifier and trainer subprocess.

Runs that must fail do so fast (MNIST files that fail their checksum); the one run that
trains for real uses `--limit` and a gate threshold no such small model can meet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.model_pickup import ModelPickup
from bot.model_provider import ModelProvider
from bot.model_versions import ModelVersions
from bot.notify import Notifier
from bot.quality_gate import QualityGate
from bot.retrain import SCHEDULE, Retrainer, RetrainOptions
from bot.storage import Storage, open_storage
from testkit.fake_notify import FakeNotifyRun
from testkit.records import make_image

TRAIN_LIMIT = 1000


@dataclass
class Services:
    """What a bot process holds, minus Telegram."""

    storage: Storage
    provider: ModelProvider
    notifier: Notifier
    models_dir: Path


async def _open_services(
    database_url: str, models_dir: Path, model_path: Path, endpoint: str
) -> Services:
    storage = await open_storage(database_url)
    provider = ModelProvider(models_dir, model_path)
    await provider.run(provider.reload)
    notifier = Notifier(endpoint, backoff=0.01)
    await notifier.start()
    return Services(storage, provider, notifier, models_dir)


async def _close_services(services: Services) -> None:
    await services.notifier.close()
    services.provider.close()
    await services.storage.close()


@pytest.fixture
async def services(
    database_url: str, tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun
) -> AsyncIterator[Services]:
    opened = await _open_services(database_url, tmp_path / "models", model_path, fake_notify.url)
    yield opened
    await _close_services(opened)


def _retrainer(
    services: Services,
    mnist_dir: Path,
    *,
    min_acc: float = 0.3,
    stale_after: timedelta = timedelta(minutes=5),
    user_digits: int = 20_000,
) -> Retrainer:
    return Retrainer(
        services.storage,
        services.provider,
        services.notifier,
        services.models_dir,
        # Trained on a few digits, far below the shipped model: only the minimum judges.
        gate=QualityGate(min_acc=min_acc, acc_margin=1.0, max_moved=1.0),
        options=RetrainOptions(
            mnist_dir=mnist_dir,
            limit=TRAIN_LIMIT,
            heartbeat_every=0.5,
            stale_after=stale_after,
            user_digits=user_digits,
        ),
    )


async def test_failed_run_keeps_the_model_and_says_why(
    services: Services, fake_notify: FakeNotifyRun, broken_mnist_dir: Path
) -> None:
    serving = services.provider.current
    retrainer = _retrainer(services, broken_mnist_dir)
    assert await retrainer.start(SCHEDULE)
    assert await retrainer.wait() == "failed"
    await services.notifier.flush()
    assert services.provider.current is serving
    started, failed = fake_notify.messages
    assert started == "🔄 Retraining started (schedule)"
    assert failed.startswith("❌ Retraining failed, current model kept: error: ")
    run = await services.storage.last_retrain()
    assert run is not None
    assert run.outcome == "failed"
    assert run.detail is not None
    assert run.detail.startswith("error: ")
    assert await services.storage.active_model() is None
    assert not list((services.models_dir / "candidates").iterdir())


async def test_one_run_at_a_time_across_processes(
    services: Services,
    database_url: str,
    tmp_path: Path,
    model_path: Path,
    fake_notify: FakeNotifyRun,
    broken_mnist_dir: Path,
) -> None:
    other = await _open_services(database_url, tmp_path / "models", model_path, fake_notify.url)
    try:
        first = _retrainer(services, broken_mnist_dir)
        second = _retrainer(other, broken_mnist_dir)
        assert await first.start("admin 1")
        assert not await second.start("admin 2")
        assert not await first.start("schedule")
        assert not second.running
        assert await first.wait() == "failed"
        assert await second.start("admin 2")
        assert await second.wait() == "failed"
        await services.notifier.flush()
        await other.notifier.flush()
    finally:
        await _close_services(other)
    started = [m for m in fake_notify.messages if m.startswith("🔄")]
    assert started == ["🔄 Retraining started (admin 1)", "🔄 Retraining started (admin 2)"]


async def test_a_crashed_run_is_failed_at_the_next_start(
    services: Services, broken_mnist_dir: Path
) -> None:
    crashed = await services.storage.try_start_retrain("schedule", "gone-host:1")
    assert crashed is not None
    leftover = services.models_dir / "candidates" / f"run-{crashed}.npz"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a model")
    retrainer = _retrainer(services, broken_mnist_dir, stale_after=timedelta(0))
    assert await retrainer.recover() == 1
    run = await services.storage.last_retrain()
    assert run is not None
    assert (run.id, run.outcome) == (crashed, "failed")
    assert not leftover.exists()
    assert await retrainer.start(SCHEDULE)
    assert await retrainer.wait() == "failed"


async def test_recover_leaves_a_live_run_of_another_process_alone(
    services: Services, broken_mnist_dir: Path
) -> None:
    live = await services.storage.try_start_retrain("schedule", "other-host:2")
    assert live is not None
    candidate = services.models_dir / "candidates" / f"run-{live}.npz"
    candidate.parent.mkdir(parents=True)
    candidate.write_bytes(b"being written")
    retrainer = _retrainer(services, broken_mnist_dir)
    assert await retrainer.recover() == 0
    assert candidate.exists()
    assert not await retrainer.start(SCHEDULE)


async def test_pick_up_serves_the_model_another_process_promoted(
    services: Services,
    model_path: Path,
    model_as_version: Callable[[Path, str], Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    pickup = ModelPickup(services.storage, services.provider, ModelVersions(services.models_dir))
    assert not await pickup.pick_up()
    services.models_dir.mkdir(parents=True, exist_ok=True)
    promoted = await asyncio.to_thread(
        model_as_version, services.models_dir / "another-version.npz", "another-version"
    )
    await services.storage.set_active_model("another-version", str(promoted))

    assert await pickup.pick_up()
    picked = services.provider.current
    assert (picked.version, services.provider.current_path) == ("another-version", promoted)

    # The next tick sees the version it serves and reads nothing: not even a file gone since.
    promoted.unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot"):
        assert not await pickup.pick_up()
    assert services.provider.current is picked
    assert caplog.records == []

    await services.storage.set_active_model("broken-version", str(services.models_dir / "none"))
    assert not await pickup.pick_up()
    assert services.provider.current is picked


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_run_rejected_by_the_gate_keeps_the_model(
    services: Services, fake_notify: FakeNotifyRun, mnist_dir: Path
) -> None:
    """It learned from a sample of users' digits, as many as RETRAIN_USER_DIGITS allows."""
    digits = [make_image(1, digit_index=n, digit_count=30) for n in range(30)]
    await services.storage.save_photo(digits)
    serving = services.provider.current
    retrainer = _retrainer(services, mnist_dir, min_acc=0.999, user_digits=12)
    assert await retrainer.start("admin 7")
    assert await retrainer.wait() == "rejected"
    await services.notifier.flush()
    assert services.provider.current is serving
    assert fake_notify.messages[0] == "🔄 Retraining started (admin 7)"
    assert fake_notify.messages[1].startswith("⚠️ New model rejected, current model kept: ACC ")
    assert "below the 99.9% minimum" in fake_notify.messages[1]
    run = await services.storage.last_retrain()
    assert run is not None
    assert run.outcome == "rejected"
    assert run.metrics is not None
    assert run.metrics["metrics"]["acc"] < 0.999
    assert run.metrics["n_extra"] == 12
    assert list(services.models_dir.glob("*.npz")) == []
    assert await services.storage.active_model() is None


async def _heartbeat_seen(storage: Storage) -> None:
    """Wait until the run has heartbeaten once: the trainer child is running."""
    async with asyncio.timeout(60):
        while True:
            run = await storage.last_retrain()
            if (
                run is not None
                and run.heartbeat_at is not None
                and run.heartbeat_at > run.started_at
            ):
                return
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("when", ["at once", "while training"])
async def test_stopping_the_bot_mid_run_fails_the_run_and_kills_the_trainer(
    services: Services, fake_notify: FakeNotifyRun, mnist_dir: Path, when: str
) -> None:
    serving = services.provider.current
    retrainer = _retrainer(services, mnist_dir)
    assert await retrainer.start(SCHEDULE)
    if when == "while training":
        await _heartbeat_seen(services.storage)
    await retrainer.close()
    await services.notifier.flush()
    assert not retrainer.running
    assert services.provider.current is serving
    assert fake_notify.messages == [
        "🔄 Retraining started (schedule)",
        "❌ Retraining failed, current model kept: the bot stopped during training",
    ]
    run = await services.storage.last_retrain()
    assert run is not None
    assert (run.outcome, run.detail) == ("failed", "the bot stopped during training")
    assert not list((services.models_dir / "candidates").iterdir())
