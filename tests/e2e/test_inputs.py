"""End to end: what the bot says to everything that is not a readable digit."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot import texts
from testkit.bot_harness import RunningBot, photo_of, running_bot

USER, CHAT = 601, 601


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path, max_image_mb=1) as running:
        yield running


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_non_pictures_get_told_what_to_send(bot: RunningBot) -> None:
    """Each is answered, quoting it (updates are handled concurrently, so in any order)."""
    tg = bot.telegram
    sticker = {"file_id": "s1", "file_unique_id": "us1", "width": 512, "height": 512}
    sent = [
        tg.send_text(USER, CHAT, "hello, what are you?"),
        tg.send_message(
            USER,
            CHAT,
            sticker=sticker | {"is_animated": False, "is_video": False, "type": "regular"},
        ),
        tg.send_message(
            USER, CHAT, voice={"file_id": "v1", "file_unique_id": "uv1", "duration": 2}
        ),
        tg.send_message(
            USER,
            CHAT,
            video={
                "file_id": "m1",
                "file_unique_id": "um1",
                "width": 9,
                "height": 9,
                "duration": 1,
            },
        ),
        tg.send_document_from_user(
            USER,
            CHAT,
            b"%PDF-1.4 not a picture",
            file_name="digit.pdf",
            mime_type="application/pdf",
        ),
    ]

    replies = await tg.wait_for_replies(CHAT, 5)

    answered = {r["reply_to_message_id"]: r["text"] for r in replies}
    assert [answered[m] for m in sent] == [texts.NOT_AN_IMAGE] * 4 + [texts.NOT_A_PICTURE_FILE]
    assert not tg.calls_of("getFile")
    assert not tg.calls_of("sendPhoto")


async def test_too_big_corrupt_and_blank_pictures_get_short_true_answers(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    tg.send_document_from_user(
        USER,
        CHAT,
        photo_of(digit),
        file_name="big.png",
        mime_type="image/png",
        file_size=5 * 1024 * 1024,
    )
    tg.send_document_from_user(
        USER, CHAT, b"\x89PNG\r\n\x1a\n broken", file_name="broken.png", mime_type="image/png"
    )
    tg.send_photo_from_user(USER, CHAT, _png(Image.new("L", (400, 300), 255)))

    replies = await tg.wait_for_replies(CHAT, 3)

    texts_sent = sorted(r["text"] for r in replies)
    assert texts.too_big("en", 1) in texts_sent
    unreadable = [t for t in texts_sent if t.startswith(texts.unreadable("en", ""))]
    assert len(unreadable) == 2
    assert not tg.calls_of("sendPhoto")
    assert len(tg.calls_of("getFile")) == 2
    assert await bot.storage.user_stats(USER) == await bot.storage.user_stats(USER + 1)


async def test_far_from_every_cluster_is_not_given_a_made_up_cluster(
    tmp_path: Path, model_path: Path
) -> None:
    cross = Image.new("L", (400, 300), 255)
    pen = ImageDraw.Draw(cross)
    pen.line([(130, 60), (270, 240)], fill=0, width=12)
    pen.line([(270, 60), (130, 240)], fill=0, width=12)

    async with running_bot(tmp_path, model_path) as bot:
        message_id = bot.telegram.send_photo_from_user(USER, CHAT, _png(cross))
        [reply] = await bot.telegram.wait_for_replies(CHAT, 1)
        stored = await bot.storage.find_image(CHAT, message_id)

    assert reply["caption"].startswith(texts.NOT_A_DIGIT)
    assert "cluster" not in reply["caption"]
    assert "reply_markup" not in reply
    picture = Image.open(io.BytesIO(bot.telegram.uploads[reply["photo"][0]["file_id"]]))
    assert picture.width < 2 * 28 * 16
    assert stored is not None
    assert stored.digit.is_outlier
