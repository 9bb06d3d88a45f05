"""End to end: users send photos and image files to the real bot through FakeTelegram."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from testkit.bot_harness import RunningBot, photo_of, png_with_transparency

USER, CHAT = 501, 501


async def test_slow_reply_shows_that_a_photo_is_on_its_way(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    tg.delay_next("getFile", 1.5)
    tg.send_photo_from_user(USER, CHAT, photo_of(digits[0]))

    [reply] = await tg.wait_for_replies(CHAT, 1)

    [action] = tg.calls_of("sendChatAction")
    assert action.params["action"] == "upload_photo"
    assert tg.calls.index(action) < tg.calls.index(tg.calls_of("sendPhoto")[-1])
    assert "photo" in reply


def _buttons(message: dict) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_photo_gets_one_picture_with_cluster_caption_and_digit_buttons(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    # A worker process started and its model loaded, so this reply is as quick as most.
    await bot.models.recognise(photo_of(digits[1]))
    message_id = tg.send_photo_from_user(USER, CHAT, photo_of(digits[0]))

    [reply] = await tg.wait_for_replies(CHAT, 1)

    assert "photo" in reply
    assert reply["reply_to_message_id"] == message_id  # quoted: replies can come out of order
    assert "cluster" in reply["caption"]
    assert bot.models.current.version in reply["caption"]
    assert "%" in reply["caption"]
    image_id = int(_buttons(reply)[0].split(":")[1])
    assert _buttons(reply) == [f"fb:{image_id}:{d}" for d in range(10)]
    picture = Image.open(io.BytesIO(tg.uploads[reply["photo"][0]["file_id"]]))
    assert picture.size == (reply["photo"][0]["width"], reply["photo"][0]["height"])
    assert picture.width > 2 * 28 * 8
    assert tg.calls_of("sendChatAction") == []  # a quick reply spends no call on a status

    stored = await bot.storage.find_image(CHAT, message_id)
    assert stored is not None
    assert stored.id == image_id
    assert stored.user_id == USER
    assert stored.mime_type == "image/jpeg"
    assert stored.original == photo_of(digits[0])
    assert stored.digit.mnist.shape == (28, 28)
    assert f"cluster {stored.digit.cluster}" in reply["caption"]
    assert stored.model_version == bot.models.current.version
    await bot.settle()
    answered = await bot.storage.get_image(image_id)
    assert answered is not None
    assert answered.answered_at is not None


async def test_png_file_with_transparency_is_read_like_a_photo(
    bot: RunningBot, digits: np.ndarray
) -> None:
    tg = bot.telegram
    data = png_with_transparency(digits[1])
    message_id = tg.send_document_from_user(
        USER, CHAT, data, file_name="seven.png", mime_type="image/png"
    )

    [reply] = await tg.wait_for_replies(CHAT, 1)

    assert "cluster" in reply["caption"]
    stored = await bot.storage.find_image(CHAT, message_id)
    assert stored is not None
    assert stored.mime_type == "image/png"
    assert stored.original == data
