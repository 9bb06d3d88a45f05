"""Faults around the bot's edges: a damaged model file at start, Telegram failing getUpdates."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from bot_harness import photo_of, running_bot

from bot import texts
from model.data import Mnist
from model.modelfile import load_model

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
    async with running_bot(tmp_path, model_path) as bot:
        tg = bot.telegram
        tg.fail_next("getUpdates", status=502, description="Bad Gateway", retry_after=None, times=3)
        tg.send_text(USER, USER, "/help")
        [reply] = await tg.wait_for_replies(USER, 1, within=60)
        tg.fail_next("sendMessage", status=429, retry_after=1, times=2)
        tg.send_text(USER, USER, "/start")
        replies = await tg.wait_for_replies(USER, 2, within=60)

    assert reply["text"] == texts.help_text("en")
    assert [r["text"] for r in replies] == [texts.help_text("en"), texts.help_text("en")]
    assert len(tg.calls_of("sendMessage")) == 4
