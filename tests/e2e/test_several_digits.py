"""End to end: a photo of several digits, through the real bot and FakeTelegram, on both databases.

The photos are MNIST test digits written in a row on a white page (`bot_harness.page_of`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot import texts
from bot.recognition import MAX_DIGITS, recognise
from bot.render import BOX_COLOUR, TILE_SCALE, Wording, page_layout
from model.mnist import Mnist
from model.serving.preprocess import find_digits
from testkit.bot_harness import RunningBot, page_of, photo_of, running_bot

USER, OTHER = 601, 602


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path, database_url: str):
    async with running_bot(tmp_path, model_path, database_url=database_url) as running:
        yield running


@pytest.fixture(scope="module")
def row(mnist: Mnist) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """Five MNIST test digits (7 2 1 0 4) in a row, and where each was written."""
    return page_of([mnist.test_images[:5]])


def _picture(bot: RunningBot, reply: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(bot.telegram.uploads[reply["photo"][0]["file_id"]]))


def _reply_to(reply: dict[str, Any]) -> dict[str, Any]:
    """The bot's message as Telegram puts it in a user's reply (reply_to_message)."""
    return {key: reply[key] for key in ("message_id", "date", "chat", "from")}


async def _send_row(bot: RunningBot, data: bytes, user: int = USER) -> dict[str, Any]:
    bot.telegram.send_photo_from_user(user, user, data, width=1000, height=300)
    [reply] = await bot.telegram.wait_for_replies(user, 1)
    await bot.settle()
    return reply


async def test_a_row_of_digits_gets_one_picture_with_a_numbered_box_and_a_tile_for_each(
    bot: RunningBot, row: tuple[bytes, list[tuple[int, int, int, int]]]
) -> None:
    data, squares = row
    message_id = bot.telegram.send_photo_from_user(USER, USER, data)
    [reply] = await bot.telegram.wait_for_replies(USER, 1)
    await bot.settle()

    assert reply["reply_to_message_id"] == message_id
    assert "reply_markup" not in reply  # the true number is typed, not pressed
    digits = await bot.storage.reply_digits(USER, reply["message_id"])
    assert [d.digit_index for d in digits] == [0, 1, 2, 3, 4]
    assert {(d.message_id, d.digit_count, d.user_id) for d in digits} == {(message_id, 5, USER)}
    clusters = " ".join(str(d.digit.cluster) for d in digits)
    assert reply["caption"].startswith(f"I see 5 digits: clusters {clusters}.\n")
    assert f"Model {bot.models.current.version}." in reply["caption"]
    assert texts.PAGE_FEEDBACK in reply["caption"]
    # The photo is kept once, with its first digit; each digit has its own box and 28x28.
    assert digits[0].original == data
    assert [d.original for d in digits[1:]] == [b""] * 4
    found = find_digits(data).digits
    for digit, square, seen in zip((d.digit for d in digits), squares, found, strict=True):
        assert digit.box == seen.box
        assert digit.box is not None
        x0, y0, x1, y1 = digit.box
        assert square[0] <= x0 < x1 <= square[2]
        assert square[1] <= y0 < y1 <= square[3]
        assert np.array_equal(digit.mnist, seen.image)
        assert digit.cluster == int(bot.models.current.assign(seen.image[np.newaxis]).clusters[0])
    assert await bot.storage.find_image(USER, message_id) is not None

    picture = np.asarray(_picture(bot, reply).convert("RGB"), dtype=int)
    layout = page_layout((Image.open(io.BytesIO(data)).size), 5)
    assert picture.shape[:2] == (layout.size[1], layout.size[0])
    for digit, (left, top) in zip((d.digit for d in digits), layout.tiles_at, strict=True):
        tile = picture[top : top + 28 * TILE_SCALE, left : left + 28 * TILE_SCALE, 0]
        enlarged = np.kron(digit.mnist.astype(int), np.ones((TILE_SCALE, TILE_SCALE), int))
        assert np.abs(tile - enlarged).mean() < 12
        assert digit.box is not None
        x0, y0, x1, _ = (round(v * layout.scale) for v in digit.box)
        top_edge = picture[layout.photo_at[1] + y0 + np.arange(3), layout.photo_at[0] + x1 - 8]
        # The box drawn around it (JPEG blurs a 3-pixel line's colour a little).
        assert np.abs(top_edge - np.array(BOX_COLOUR)).max(axis=1).min() < 50
    # Past the last tile the row is empty: five tiles, not more.
    left, top = layout.tiles_at[-1]
    beyond = picture[top : top + 28 * TILE_SCALE, left + 112 : left + 112 + 28 * TILE_SCALE]
    assert beyond.std() < 3

    stats = await bot.storage.user_stats(USER)
    assert (stats.photos, stats.images, sum(stats.per_cluster.values())) == (1, 5, 5)
    assert len(await bot.storage.training_sample(100)) == 5


async def test_the_true_number_typed_in_reply_labels_each_digit(
    bot: RunningBot, row: tuple[bytes, list[tuple[int, int, int, int]]]
) -> None:
    tg = bot.telegram
    reply = await _send_row(bot, row[0])

    short = tg.send_message(USER, USER, text="7 2 1", reply_to_message=_reply_to(reply))
    forged = tg.send_message(OTHER, USER, text="72104", reply_to_message=_reply_to(reply))
    right = tg.send_message(USER, USER, text="72104", reply_to_message=_reply_to(reply))
    answers = await tg.wait_for_replies(USER, 4)

    # Updates are handled concurrently: each answer is found by the message it quotes.
    said = {a["reply_to_message_id"]: a["text"] for a in answers[1:]}
    assert said == {
        short: texts.digits_count_differs("en", 5, 3),
        forged: texts.say("en", texts.FEEDBACK_NOT_YOURS),
        right: "Thanks! Noted: it was 72104.",
    }
    digits = await bot.storage.reply_digits(USER, reply["message_id"])
    assert [d.feedback_digit for d in digits] == [7, 2, 1, 0, 4]
    assert (await bot.storage.user_stats(USER)).feedback == 5


async def test_a_number_in_reply_to_anything_else_is_told_where_it_goes(
    bot: RunningBot, row: tuple[bytes, list[tuple[int, int, int, int]]]
) -> None:
    tg = bot.telegram
    tg.send_text(USER, USER, "/help")
    [help_reply] = await tg.wait_for_replies(USER, 1)

    tg.send_message(USER, USER, text="72104", reply_to_message=_reply_to(help_reply))
    answer = (await tg.wait_for_replies(USER, 2))[-1]

    assert answer["text"] == texts.NOT_A_REPLY_OF_MINE


async def test_forget_erases_every_digit_of_the_photo(
    bot: RunningBot, row: tuple[bytes, list[tuple[int, int, int, int]]]
) -> None:
    tg = bot.telegram
    reply = await _send_row(bot, row[0])
    tg.send_text(USER, USER, "/forget")
    question = (await tg.wait_for_replies(USER, 2))[-1]
    yes, _ = question["reply_markup"]["inline_keyboard"][0]
    tg.press_button(USER, USER, question["message_id"], yes["callback_data"])
    await tg.wait_for_calls("editMessageText", 1)

    assert tg.message(USER, question["message_id"])["text"] == texts.forgotten("en", 1)
    assert await bot.storage.reply_digits(USER, reply["message_id"]) == []
    assert (await bot.storage.user_stats(USER)).images == 0
    assert len(await bot.storage.training_sample(100)) == 0


async def test_more_digits_than_a_reply_shows_get_a_clear_answer_and_nothing_is_kept(
    bot: RunningBot, mnist: Mnist
) -> None:
    lines = [mnist.test_images[n * 7 : n * 7 + 7] for n in range(6)]  # 42 digits
    data, _ = page_of(lines, side=60, gap=30)
    assert len(find_digits(data).digits) == 42 > MAX_DIGITS

    message_id = bot.telegram.send_photo_from_user(USER, USER, data)
    [reply] = await bot.telegram.wait_for_replies(USER, 1)

    assert reply["text"] == texts.too_many_digits("en", 42, MAX_DIGITS)
    assert reply["text"].startswith("I see 42 digits in this photo, more than the 40 I answer")
    await bot.settle()
    assert await bot.storage.find_image(USER, message_id) is None
    assert (await bot.storage.user_stats(USER)).images == 0


async def test_french_users_get_the_caption_in_french(
    bot: RunningBot, row: tuple[bytes, list[tuple[int, int, int, int]]]
) -> None:
    bot.telegram.languages[USER] = "fr"
    reply = await _send_row(bot, row[0])

    digits = await bot.storage.reply_digits(USER, reply["message_id"])
    clusters = " ".join(str(d.digit.cluster) for d in digits)
    assert reply["caption"].startswith(f"Je vois 5 chiffres\u00a0: groupes {clusters}.\n")
    assert "répondez à ce message avec le nombre" in reply["caption"]


async def test_the_words_drawn_in_a_reply_picture_are_in_the_users_language(
    bot: RunningBot, mnist: Mnist
) -> None:
    bot.telegram.languages[USER] = "fr"
    photo = photo_of(mnist.test_images[0])
    reply = await _send_row(bot, photo)

    sent = bot.telegram.uploads[reply["photo"][0]["file_id"]]
    assert sent == recognise(bot.models.current, photo, Wording("fr")).picture
    assert sent != recognise(bot.models.current, photo, Wording("en")).picture


def test_touching_digits_are_said_plainly() -> None:
    english = texts.page_caption("en", ["7", "4", "?"], [2], "v1", ask=True)
    assert english.startswith("I see 3 digits: clusters 7 4 ?.\n")
    assert "\nBox 2 seems to hold digits that touch; I read it as one.\n" in english
    french = texts.page_caption("fr", ["7", "4"], [1, 2], "v1", ask=False)
    assert "\nLes cadres 1, 2 semblent contenir des chiffres qui se touchent" in french
    assert texts.say("fr", texts.PAGE_FEEDBACK) not in french
