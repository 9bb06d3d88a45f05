"""A fresh deployment has no MNIST files: the retraining downloads them first (from a local
mirror standing in for the real ones), or, offline, says exactly what to run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.model_provider import ModelProvider
from bot.notify import Notifier
from bot.quality_gate import QualityGate
from bot.retrain import SCHEDULE, Retrainer, RetrainOptions
from bot.storage import Storage, open_storage
from model.mnist import MNIST_FILES
from testkit.fake_notify import FakeNotifyRun
from testkit.load_driver import free_port
from testkit.local_http import serving


@pytest.fixture
async def mirror(mnist_dir: Path) -> AsyncIterator[str]:
    """An HTTP server holding the four MNIST files, like the public mirrors."""
    app = web.Application()
    app.router.add_static("/mnist/", mnist_dir)
    async with serving(app) as root:
        yield f"{root}/mnist/"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = await open_storage(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    yield store
    await store.close()


async def _retrain(
    storage: Storage, tmp_path: Path, model_path: Path, endpoint: str, mirror: str
) -> str | None:
    """One scheduled run; the trainer is stopped after a second (the download comes first)."""
    provider = ModelProvider(tmp_path / "models", model_path, processes=1)
    await provider.run(provider.reload)
    notifier = Notifier(endpoint, backoff=0.01)
    await notifier.start()
    retrainer = Retrainer(
        storage,
        provider,
        notifier,
        tmp_path / "models",
        gate=QualityGate(min_acc=0.3, acc_margin=1.0, max_moved=1.0),
        options=RetrainOptions(
            mnist_dir=tmp_path / "fresh" / "mnist", time_limit=1.0, mnist_mirrors=(mirror,)
        ),
    )
    try:
        assert await retrainer.start(SCHEDULE)
        outcome = await retrainer.wait()
        await notifier.flush()
    finally:
        await notifier.close()
        provider.close()
    return outcome


async def test_offline_the_push_says_what_to_run(
    storage: Storage, tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun
) -> None:
    offline = f"http://127.0.0.1:{free_port()}/"
    outcome = await _retrain(storage, tmp_path, model_path, fake_notify.url, offline)
    directory = tmp_path / "fresh" / "mnist"

    assert outcome == "failed"
    started, failed = fake_notify.messages
    assert started == "🔄 Retraining started (schedule)"
    assert failed.startswith(
        f"❌ Retraining failed, current model kept: the MNIST files are missing from {directory} "
        "and could not be downloaded (Could not download "
    )
    assert failed.endswith(
        f"; run `python -m model download {directory}` where the bot runs, then /retrain"
    )
    assert not any(directory.glob("*.gz"))


async def test_missing_files_are_downloaded_and_verified_before_training(
    storage: Storage,
    tmp_path: Path,
    model_path: Path,
    fake_notify: FakeNotifyRun,
    mirror: str,
    mnist_dir: Path,
) -> None:
    outcome = await _retrain(storage, tmp_path, model_path, fake_notify.url, mirror)
    directory = tmp_path / "fresh" / "mnist"

    assert outcome == "failed"  # the trainer got its second, then was stopped
    started, downloaded, failed = fake_notify.messages
    assert started == "🔄 Retraining started (schedule)"
    assert downloaded == (
        f"📥 MNIST files were missing from {directory}: downloaded, checksums verified"
    )
    assert failed == (
        "❌ Retraining failed, current model kept: training took longer than 1 s and was stopped"
    )
    for spec in MNIST_FILES.values():
        assert (directory / spec.name).read_bytes() == (mnist_dir / spec.name).read_bytes()
