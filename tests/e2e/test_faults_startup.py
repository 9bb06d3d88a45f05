"""Faults around the bot's edges: a damaged model file at start, Telegram failing getUpdates."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import texts
from model.mnist import Mnist
from model.serving.modelfile import load_model
from testkit.bot_harness import photo_of, running_bot

USER = 6601


@pytest.fixture
def damaged_models(tmp_path: Path, model_path: Path) -> Path:
    """A models dir whose only (so newest) file is a model cut short."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "newest.npz").write_bytes(model_path.read_bytes()[:5000])
    return models


async def test_a_damaged_newer_model_file_is_logged_and_the_shipped_one_served(
    tmp_path: Path,
    model_path: Path,
    damaged_models: Path,
    mnist: Mnist,
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = damaged_models
    caplog.set_level(logging.WARNING, logger="bot.model_provider")

    async with running_bot(tmp_path, model_path, models_dir=models) as bot:
        bot.telegram.send_photo_from_user(USER, USER, photo_of(mnist.test_images[0]))
        [reply] = await bot.telegram.wait_for_replies(USER, 1)
        served = bot.models.current.version

    assert served == load_model(model_path).version
    assert served in reply["caption"]
    assert any("newest.npz" in record.getMessage() for record in caplog.records)


async def test_getupdates_failing_with_5xx_and_429_is_backed_off_and_recovered(
    tmp_path: Path, model_path: Path
) -> None:
    """Polls failing with 502 are retried after growing pauses; a 429 after its retry_after."""
    async with running_bot(tmp_path, model_path) as bot:
        tg = bot.telegram
        # Every getUpdates already received has passed the failure check: the next ones fail.
        tg.fail_next("getUpdates", status=502, description="Bad Gateway", retry_after=None, times=2)
        bad_gateway = len(tg.calls_of("getUpdates"))
        tg.send_text(USER, USER, "/help")
        await tg.wait_for_replies(USER, 1, within=60)
        tg.fail_next("getUpdates", status=429, retry_after=1)
        throttled = len(tg.calls_of("getUpdates"))
        tg.send_text(USER, USER, "/start")
        replies = await tg.wait_for_replies(USER, 2, within=60)

    polls = [call.at for call in tg.calls_of("getUpdates")]
    after_502 = polls[bad_gateway + 1] - polls[bad_gateway]
    after_second_502 = polls[bad_gateway + 2] - polls[bad_gateway + 1]
    after_429 = polls[throttled + 1] - polls[throttled]
    assert after_502 >= 1.0
    assert after_second_502 >= 1.5  # the pause grows
    assert after_429 >= 1.0  # retry_after
    assert [r["text"] for r in replies] == [texts.help_text("en"), texts.help_text("en")]
    assert len(tg.calls_of("sendMessage")) == 2
