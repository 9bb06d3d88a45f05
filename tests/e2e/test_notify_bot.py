"""The running bot with notify.run in trouble, and /retrain announced end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot import pushes, texts
from bot.context import NOTIFIER, RETRAINER
from bot.notify import Notifier
from bot.pushes import Push
from testkit.bot_harness import ADMIN_ID, photo_of, running_bot
from testkit.fake_notify import FakeNotifyRun, closed_port_url

USER = CHAT = 501


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    """Poll a condition that another thread makes true."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("trouble", ["hangs", "500", "429", "down"])
async def test_photo_replies_do_not_wait_for_notify_run(
    tmp_path: Path,
    model_path: Path,
    fake_notify: FakeNotifyRun,
    digit: np.ndarray,
    trouble: str,
) -> None:
    endpoint = closed_port_url() if trouble == "down" else fake_notify.url
    if trouble == "hangs":
        fake_notify.hang()
    elif trouble in ("500", "429"):
        fake_notify.status = int(trouble)
        fake_notify.retry_after = "1"
    async with running_bot(tmp_path, model_path, notify_run_endpoint=endpoint) as bot:
        notifier: Notifier = bot.application.bot_data[NOTIFIER]
        await notifier.push(Push.of_text("a push into trouble"))
        if trouble != "down":
            await _until(lambda: fake_notify.attempts + fake_notify.held >= 1)

        bot.telegram.send_photo_from_user(USER, CHAT, photo_of(digit))
        [reply] = await bot.telegram.wait_for_replies(CHAT, 1)

        assert "cluster" in reply["caption"]
        assert fake_notify.posts == []
        if trouble == "hangs":
            assert fake_notify.held == 1, "the reply went out while the push was still hanging"
        fake_notify.status = 200
        fake_notify.release()


async def test_admin_retrain_is_announced_in_order_and_mirrored_once(
    tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun, broken_mnist_dir: Path
) -> None:
    async with running_bot(
        tmp_path,
        model_path,
        notify_run_endpoint=fake_notify.url,
        notify_telegram_admins=True,
        mnist_dir=broken_mnist_dir,
    ) as bot:
        serving = bot.models.current
        bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")
        posts = await asyncio.to_thread(fake_notify.wait_for_posts, 3)
        assert await bot.application.bot_data[RETRAINER].wait() == "failed"
        await bot.application.bot_data[NOTIFIER].flush()
        replies = await bot.telegram.wait_for_replies(ADMIN_ID, 4)
        assert len(replies) == 4

        boot, started, failed = (post.message for post in posts)
        assert boot == f"▶️ Digit bot started · model {serving.version}"
        assert started == f"🔄 Retraining started (admin {ADMIN_ID})"
        assert failed.startswith("❌ Retraining failed, current model kept: error: ")
        texts_to_admin = sorted(reply["text"] for reply in replies)
        assert texts_to_admin == sorted([boot, texts.RETRAIN_STARTED, started, failed])
        assert bot.models.current is serving
        run = await bot.storage.last_retrain()
        assert run is not None
        assert (run.trigger, run.outcome) == (f"admin {ADMIN_ID}", "failed")


async def test_admin_without_mirror_is_told_how_the_retrain_ended(
    tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun, broken_mnist_dir: Path
) -> None:
    async with running_bot(
        tmp_path,
        model_path,
        notify_run_endpoint=fake_notify.url,
        notify_telegram_admins=False,
        mnist_dir=broken_mnist_dir,
    ) as bot:
        bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")
        started_reply, ended = await bot.telegram.wait_for_replies(ADMIN_ID, 2)
        posts = await asyncio.to_thread(fake_notify.wait_for_posts, 3)
        assert posts[0].message.startswith("▶️ Digit bot started")
        assert started_reply["text"] == texts.RETRAIN_STARTED
        assert ended["text"] == posts[2].message
        assert ended["text"].startswith("❌ Retraining failed")


async def test_start_and_stop_are_pushed(
    tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun
) -> None:
    async with running_bot(tmp_path, model_path, notify_run_endpoint=fake_notify.url) as bot:
        version = bot.models.current.version
        [boot] = await asyncio.to_thread(fake_notify.wait_for_posts, 1)
        assert boot.message == f"▶️ Digit bot started · model {version}"
    posts = await asyncio.to_thread(fake_notify.wait_for_posts, 2)
    assert [post.message for post in posts][-1] == pushes.bot_stopped().text
