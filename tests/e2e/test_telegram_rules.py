"""End to end: the rules Telegram enforces on bots, kept by the stand-in, met quietly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from bot import texts
from bot.error_pushes import ErrorPushThrottle
from bot.pushes import bot_error
from testkit.bot_harness import RunningBot, photo_of, running_bot
from testkit.fake_notify import FakeNotifyRun

USER = 801


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path) as running:
        yield running


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _error_answers(bot: RunningBot) -> list[dict]:
    failed = texts.say("en", texts.WORKING_ON_IT_FAILED)
    return [m for m in bot.telegram.sent.get(USER, []) if m.get("text") == failed]


@pytest.mark.parametrize("at_once", [False, True], ids=["one-after-the-other", "at-once"])
async def test_a_double_tap_on_a_digit_is_answered_quietly(
    bot: RunningBot, digit: np.ndarray, caplog: pytest.LogCaptureFixture, at_once: bool
) -> None:
    tg = bot.telegram
    tg.send_photo_from_user(USER, USER, photo_of(digit))
    [reply] = await tg.wait_for_replies(USER, 1)
    seven = reply["reply_markup"]["inline_keyboard"][1][2]["callback_data"]

    tg.press_button(USER, USER, reply["message_id"], seven)
    if not at_once:
        await tg.wait_for_calls("answerCallbackQuery", 1)
        await bot.settle()
    tg.press_button(USER, USER, reply["message_id"], seven)
    await tg.wait_for_calls("answerCallbackQuery", 2)
    await bot.settle()

    assert _error_answers(bot) == []
    assert _failures(caplog) == []
    keyboard = tg.message(USER, reply["message_id"])["reply_markup"]["inline_keyboard"]
    assert keyboard[1][2]["text"] == "✓ 7"


async def test_a_user_who_blocked_the_bot_costs_no_error_and_keeps_the_photo(
    bot: RunningBot, digit: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    tg = bot.telegram
    tg.blocked.add(USER)

    message_id = tg.send_photo_from_user(USER, USER, photo_of(digit))
    await tg.wait_for_calls("sendPhoto", 1)
    await bot.settle()

    assert tg.sent.get(USER, []) == []
    assert _failures(caplog) == []
    assert await bot.storage.find_image(USER, message_id) is not None


async def test_a_photo_deleted_before_its_reply_still_gets_the_reply(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    tg.delay_next("getFile", 1.0)
    message_id = tg.send_photo_from_user(USER, USER, photo_of(digit))
    tg.delete_message_of_user(USER, message_id)

    [reply] = await tg.wait_for_replies(USER, 1)

    assert "photo" in reply
    assert "reply_to_message_id" not in reply


async def test_a_file_telegram_will_not_serve_gets_the_too_big_answer(
    bot: RunningBot, digit: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    tg = bot.telegram
    huge = photo_of(digit) + bytes(21 * 1024 * 1024)
    tg.send_document_from_user(
        USER, USER, huge, file_name="d.jpg", mime_type="image/jpeg", file_size=50_000
    )

    [reply] = await tg.wait_for_replies(USER, 1)

    assert reply["text"] == texts.too_big("en", bot.settings.max_image_mb)
    assert _failures(caplog) == []


async def test_a_chat_over_telegrams_rate_gets_every_reply_after_waiting(
    bot: RunningBot,
) -> None:
    tg = bot.telegram
    tg.chat_burst = 2
    for _ in range(4):
        tg.send_text(USER, USER, "/help")

    replies = await tg.wait_for_replies(USER, 4, within=30)

    assert len(replies) == 4
    assert len(tg.calls_of("sendMessage")) > 4  # some were refused with 429 and sent again


def test_error_pushes_come_once_per_kind_and_window_with_the_count() -> None:
    now = [0.0]
    throttle = ErrorPushThrottle(600, clock=lambda: now[0])

    seen = [throttle.due("TimedOut") for _ in range(5)]
    other = throttle.due("BadRequest")
    now[0] = 599.0
    early = throttle.due("TimedOut")
    now[0] = 601.0
    later = throttle.due("TimedOut")

    assert seen == [1, None, None, None, None]
    assert other == 1
    assert early is None
    assert later == 6  # the 4 held back, the early one and this one
    assert bot_error("TimedOut", 6).text == (
        "Bot error: TimedOut, 6 times since the last push (details in the logs)"
    )
    assert (
        bot_error("TimedOut", 6)
        .in_language("fr")
        .text.startswith("Erreur du bot : TimedOut, 6 fois")
    )


async def test_many_failures_of_one_kind_make_one_push(
    tmp_path: Path, model_path: Path, digit: np.ndarray, fake_notify: FakeNotifyRun
) -> None:
    async with running_bot(tmp_path, model_path, notify_run_endpoint=fake_notify.url) as bot:
        tg = bot.telegram
        tg.fail_next(
            "sendPhoto",
            status=400,
            description="Bad Request: PHOTO_INVALID",
            retry_after=None,
            times=3,
        )
        for _ in range(3):
            tg.send_photo_from_user(USER, USER, photo_of(digit))
        await tg.wait_for_replies(USER, 3)
        await bot.settle()
        await asyncio.to_thread(fake_notify.wait_for_posts, 2)  # "started", then the error
        await asyncio.sleep(0.5)  # a second error push would come now

    errors = [m for m in fake_notify.messages if m.startswith("Bot error")]
    assert errors == ["Bot error: BadRequest (details in the logs)"]
