"""End to end: feedback buttons, /privacy and /forget, and who may press what."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bot import texts
from testkit.bot_harness import RunningBot, photo_of, running_bot

OWNER, OTHER = 801, 802


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path, retention_days=30) as running:
        yield running


async def _photo_reply(bot: RunningBot, user: int, digit: np.ndarray) -> tuple[int, dict]:
    count = len(bot.telegram.sent.get(user, []))
    message_id = bot.telegram.send_photo_from_user(user, user, photo_of(digit))
    reply = (await bot.telegram.wait_for_replies(user, count + 1))[-1]
    stored = await bot.storage.find_image(user, message_id)
    assert stored is not None
    return stored.id, reply


async def test_feedback_is_kept_for_the_owner_and_marked_on_the_keyboard(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    image_id, reply = await _photo_reply(bot, OWNER, digits[0])

    tg.press_button(OWNER, OWNER, reply["message_id"], f"fb:{image_id}:7")
    [answer] = await tg.wait_for_calls("answerCallbackQuery", 1)
    await tg.wait_for_calls("editMessageReplyMarkup", 1)

    assert answer.params["text"] == texts.feedback_thanks("en", 7)
    keyboard = tg.message(OWNER, reply["message_id"])["reply_markup"]["inline_keyboard"]
    labels = [button["text"] for row in keyboard for button in row]
    assert labels == ["0", "1", "2", "3", "4", "5", "6", "✓ 7", "8", "9"]
    stored = await bot.storage.get_image(image_id)
    assert stored is not None
    assert stored.feedback_digit == 7


async def test_feedback_from_another_user_or_for_another_image_changes_nothing(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    mine, reply = await _photo_reply(bot, OWNER, digits[0])
    theirs, _ = await _photo_reply(bot, OTHER, digits[1])

    tg.press_button(OTHER, OWNER, reply["message_id"], f"fb:{mine}:3")
    tg.press_button(OWNER, OWNER, reply["message_id"], f"fb:{theirs}:3")
    tg.press_button(OWNER, OWNER, reply["message_id"], "fb:999999:3")
    answers = await tg.wait_for_calls("answerCallbackQuery", 3)

    assert {a.params["text"] for a in answers} == {texts.FEEDBACK_NOT_YOURS}
    assert all(a.params["show_alert"] in (True, "true") for a in answers)
    assert not tg.calls_of("editMessageReplyMarkup")
    for image_id in (mine, theirs):
        stored = await bot.storage.get_image(image_id)
        assert stored is not None
        assert stored.feedback_digit is None


async def test_privacy_says_what_why_how_long_and_how_to_erase(bot: RunningBot) -> None:
    bot.telegram.send_text(OWNER, OWNER, "/privacy")

    [reply] = await bot.telegram.wait_for_replies(OWNER, 1)

    assert reply["text"] == texts.privacy("en", 30)
    assert "30 days" in reply["text"]
    assert "/export" in reply["text"]
    assert "/forget" in reply["text"]


async def test_forget_erases_only_after_the_owner_confirms(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    for digit in digits[:2]:
        await _photo_reply(bot, OWNER, digit)
    await _photo_reply(bot, OTHER, digits[0])
    tg.send_text(OWNER, OWNER, "/forget")
    question = (await tg.wait_for_replies(OWNER, 3))[-1]
    assert question["text"] == texts.FORGET_QUESTION
    yes, no = question["reply_markup"]["inline_keyboard"][0]
    assert yes["callback_data"].startswith(f"forget:{OWNER}:")
    assert no["callback_data"] == f"forget:{OWNER}:no"

    forged = tg.press_button(OTHER, OWNER, question["message_id"], yes["callback_data"])
    stale = f"forget:{OWNER}:{int(time.time()) - 3600}"
    tg.press_button(OWNER, OWNER, question["message_id"], stale)
    await tg.wait_for_calls("answerCallbackQuery", 2)
    await tg.wait_for_calls("editMessageText", 1)
    assert (await bot.storage.user_stats(OWNER)).images == 2
    assert tg.message(OWNER, question["message_id"])["text"] == texts.FORGET_EXPIRED

    tg.send_text(OWNER, OWNER, "/forget")
    question = (await tg.wait_for_replies(OWNER, 4))[-1]
    yes, _ = question["reply_markup"]["inline_keyboard"][0]
    tg.press_button(OWNER, OWNER, question["message_id"], yes["callback_data"])
    await tg.wait_for_calls("editMessageText", 2)

    assert tg.message(OWNER, question["message_id"])["text"] == texts.forgotten("en", 2)
    assert (await bot.storage.user_stats(OWNER)).images == 0
    assert (await bot.storage.user_stats(OTHER)).images == 1
    [forged_answer] = [
        call
        for call in tg.calls_of("answerCallbackQuery")
        if call.params["callback_query_id"] == forged
    ]
    assert forged_answer.params["text"] == texts.FORGET_NOT_YOURS


async def test_forget_cancelled_erases_nothing(bot: RunningBot, digits: np.ndarray) -> None:
    tg = bot.telegram
    await _photo_reply(bot, OWNER, digits[0])
    tg.send_text(OWNER, OWNER, "/forget")
    question = (await tg.wait_for_replies(OWNER, 2))[-1]
    _, no = question["reply_markup"]["inline_keyboard"][0]

    tg.press_button(OWNER, OWNER, question["message_id"], no["callback_data"])
    await tg.wait_for_calls("editMessageText", 1)

    assert tg.message(OWNER, question["message_id"])["text"] == texts.FORGET_CANCELLED
    assert (await bot.storage.user_stats(OWNER)).images == 1
