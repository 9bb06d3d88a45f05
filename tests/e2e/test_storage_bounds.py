"""End to end: what users see of bounded storage (a picture sent again, the daily quotas, the
storage cap) and what admins are pushed about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.context import NOTIFIER
from bot.quota import QuotaReached
from model.mnist import Mnist
from testkit.bot_harness import RunningBot, photo_of, running_bot
from testkit.fake_notify import FakeNotifyRun

USER, OTHER = 801, 802


@pytest.fixture(scope="module")
def photos(mnist: Mnist) -> list[bytes]:
    """Photos of four different MNIST test digits."""
    return [photo_of(digit) for digit in mnist.test_images[:4]]


async def _answer(bot: RunningBot, user: int, photo: bytes) -> tuple[int, dict]:
    """Send a photo and wait for the reply to it (and for all the work after it)."""
    count = len(bot.telegram.sent.get(user, []))
    message_id = bot.telegram.send_photo_from_user(user, user, photo)
    reply = (await bot.telegram.wait_for_replies(user, count + 1))[-1]
    await bot.settle()
    return message_id, reply


async def test_a_picture_sent_again_is_answered_each_time_and_kept_once(
    tmp_path: Path, model_path: Path, photos: list[bytes]
) -> None:
    async with running_bot(tmp_path, model_path) as bot:
        first_id, first = await _answer(bot, USER, photos[0])
        again_id, again = await _answer(bot, USER, photos[0])
        stored = [await bot.storage.find_image(USER, m) for m in (first_id, again_id)]
        report = await bot.storage.status_report(datetime.now(UTC) - timedelta(days=1))

    assert first["caption"] == again["caption"]
    assert "reply_markup" in first
    assert "reply_markup" in again
    assert [s.original if s else None for s in stored] == [photos[0], b""]
    assert [s.repeated if s else None for s in stored] == [False, True]
    assert report.original_bytes == len(photos[0])


async def test_photos_over_the_daily_quota_are_refused_before_any_work(
    tmp_path: Path, model_path: Path, photos: list[bytes]
) -> None:
    async with running_bot(tmp_path, model_path, user_daily_photos=2) as bot:
        for photo in photos[:2]:
            await _answer(bot, USER, photo)
        _, refused = await _answer(bot, USER, photos[2])
        _, other = await _answer(bot, OTHER, photos[2])

    assert refused["text"].startswith(
        "You have sent me 2 photos today, as many as I take from one person in a day. "
        "Send more after midnight UTC, in "
    )
    assert len(bot.telegram.calls_of("getFile")) == 3  # the refused photo was not fetched
    assert "photo" in other


async def test_pictures_over_the_daily_bytes_are_refused_and_a_repeat_costs_none(
    tmp_path: Path, model_path: Path, photos: list[bytes]
) -> None:
    limit_mb = (len(photos[0]) + len(photos[1]) - 1) / 1024**2
    async with running_bot(tmp_path, model_path, user_daily_mb=limit_mb) as bot:
        replies = [(await _answer(bot, USER, photo))[1] for photo in photos[:1] * 3 + photos[1:3]]

    assert ["photo" in reply for reply in replies] == [True] * 4 + [False]
    assert replies[-1]["text"].startswith("Your pictures today have reached 0.0")
    assert " MB, the most I keep from one person in a day. " in replies[-1]["text"]


async def test_over_the_cap_photos_are_answered_without_their_pictures_and_admins_told_once(
    tmp_path: Path, model_path: Path, photos: list[bytes], fake_notify: FakeNotifyRun
) -> None:
    cap_gb = len(photos[0]) / 0.9 / 1e9  # the first photo fills 90% of it
    async with running_bot(
        tmp_path, model_path, storage_cap_gb=cap_gb, notify_run_endpoint=fake_notify.url
    ) as bot:
        replies = [(await _answer(bot, USER, photo))[1] for photo in photos[:3]]
        await bot.application.bot_data[NOTIFIER].flush()
    pushes = [m for m in fake_notify.messages if m.startswith(("💾", "🛑"))]

    assert [texts.PICTURE_NOT_KEPT in r["caption"] for r in replies] == [False, True, True]
    assert all("reply_markup" in reply for reply in replies)  # the digits were kept
    assert len(pushes) == 2
    assert pushes[0].startswith("💾 Stored pictures at 90% of the cap: ")
    assert pushes[1].startswith("🛑 Stored pictures reached the cap (")
    assert "Photos are still answered" in pushes[1]


def test_quota_messages_in_french() -> None:
    photos = texts.daily_quota_reached("fr", QuotaReached(True, 200, 3600 * 4.5))
    one_hour = texts.daily_quota_reached("fr", QuotaReached(False, 50 * 1024**2, 60))

    assert photos == (
        "Vous m'avez envoyé 200 photos aujourd'hui, autant que j'en prends d'une personne par "
        "jour. Envoyez-en d'autres après minuit UTC, dans 5 heures."
    )
    assert one_hour.startswith("Vos images d'aujourd'hui ont atteint 50 Mo, le plus que je garde")
    assert one_hour.endswith("dans 1 heure.")
