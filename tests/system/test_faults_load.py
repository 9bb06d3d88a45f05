"""`python -m bot` in its own process under load: exactly once, also across a kill -9.

Slow (a bot process, hundreds of messages), so marked `slow`; CI still runs them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.app import CONCURRENT_UPDATES
from model.mnist import Mnist
from testkit.load_driver import LoadRun, bot_under_load, check, message_mix, peak_rss_of

pytestmark = pytest.mark.slow


async def test_every_message_is_answered_once_and_every_accepted_picture_stored_once(
    tmp_path: Path, model_path: Path, mnist: Mnist
) -> None:
    own_peak = 0  # the bot process's alone, without its workers
    async with bot_under_load(tmp_path, model_path) as (telegram, bot):
        run = LoadRun(telegram, users=20, mix=message_mix(mnist.test_images[:60]))

        async def sample(i: int) -> None:
            nonlocal own_peak
            bot.sample_rss()
            assert bot.process is not None
            own_peak = max(own_peak, peak_rss_of(bot.process.pid))

        await run.at_rate(200, rate=20, on_tick=sample)
        await run.drain()
    checks = check(run, f"sqlite:///{tmp_path / 'bot.sqlite3'}")

    assert checks.messages == 200
    assert checks.unanswered == []
    assert checks.answered_twice == []
    assert checks.stray == []
    assert checks.stored == checks.pictures_replied == checks.pictures_sent > 100
    assert checks.stored_not_accepted == set()
    assert checks.accepted_not_stored == set()
    # The benchmark's RSS figure counts the workers too (README: each ~60 MB), not only the bot.
    assert bot.peak_rss - own_peak > 20 * 2**20
    assert own_peak > 0


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_kill_9_mid_load_then_restart_loses_no_photo_and_repeats_only_the_reply_in_flight(
    tmp_path: Path, model_path: Path, mnist: Mnist, webhook: bool
) -> None:
    """Telegram re-sends what was not confirmed; the database answers each photo once.

    Polling confirms an update by the next getUpdates offset, a webhook by its HTTP answer;
    either way only once the update is handled.

    A reply whose sendPhoto had reached Telegram when the process died but was not yet
    recorded as answered can go out twice: no system can know whether that last request
    landed. Such repeats are bounded by the updates in hand, and each answers a message the
    dead bot had replied to but not yet confirmed to Telegram.
    """
    killed_at = 0.0
    downloads_before = -1
    unconfirmed_at_kill: set[tuple[int, int]] = set()
    async with bot_under_load(tmp_path, model_path, webhook=webhook) as (telegram, bot):
        run = LoadRun(telegram, users=20, mix=message_mix(mnist.test_images[:60]))

        async def kill_once(i: int) -> None:
            nonlocal killed_at, downloads_before, unconfirmed_at_kill
            if i == 120:
                # Hold the next download, so that a picture is surely in hand at the kill.
                downloads_before = len(telegram.calls_of("getFile"))
                telegram.delay_next("getFile", 5.0)
            if bot.starts == 1 and 0 <= downloads_before < len(telegram.calls_of("getFile")):
                replies_before = sum(len(v) for v in telegram.sent.values())
                await bot.kill()
                killed_at = time.perf_counter()
                unconfirmed_at_kill = telegram.unconfirmed()
                assert replies_before < len(run.result.sent)
                await bot.start()

        await run.at_rate(300, rate=25, on_tick=kill_once)
        await run.drain(within=180)
    checks = check(run, f"sqlite:///{tmp_path / 'bot.sqlite3'}")

    assert bot.starts == 2
    assert bool(telegram.calls_of("setWebhook")) == webhook
    assert bool(telegram.calls_of("getUpdates")) != webhook
    assert (telegram.webhook_failures > 0) == webhook  # the dead bot's requests, sent again
    assert checks.unanswered == []
    assert checks.stray == []
    assert checks.accepted_not_stored == set()
    assert checks.stored_not_accepted == set()
    # At most the updates in hand repeated, each replied by the dead bot and by the new one...
    assert checks.ok_across(killed_at, CONCURRENT_UPDATES)
    for repeated in checks.answered_twice:
        # ...which had not confirmed it to Telegram.
        assert (repeated.chat, repeated.message_id) in unconfirmed_at_kill
    assert checks.stored == checks.pictures_sent
