"""End to end: the flood limit on photos, duplicate deliveries, Telegram's flood control,
errors, concurrency."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
import pytest
from telegram import Update
from tornado.web import HTTPError

from bot import texts
from bot.app import FLOOD_RETRIES
from bot.delivery import HandledQueue, UpdateLedger
from testkit.bot_harness import ADMIN_ID, RunningBot, photo_of, running_bot
from testkit.fake_telegram import Call

USER, OTHER = 901, 902


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path, rate_limit="2/minute") as running:
        yield running


async def test_photos_beyond_the_flood_limit_get_one_notice_and_no_work(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    for _ in range(4):
        tg.send_photo_from_user(USER, USER, photo_of(digit))
    tg.send_photo_from_user(OTHER, OTHER, photo_of(digit))

    await tg.wait_for_replies(USER, 3)
    await tg.wait_for_replies(OTHER, 1)
    await bot.settle()

    replies = tg.sent[USER]
    notices = [r["text"] for r in replies if "text" in r]
    assert len(notices) == 1
    assert notices[0].startswith("You are sending me too much at once; I will answer again in ")
    assert notices[0].endswith(" seconds.")
    assert sum("photo" in r for r in replies) == 2
    assert len(replies) == 3
    assert len(tg.calls_of("getFile")) == 3  # the photos over the limit were not even fetched
    assert "photo" in tg.sent[OTHER][0]
    assert (await bot.storage.user_stats(USER)).images == 2


async def test_the_same_message_delivered_twice_is_stored_and_answered_once(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    message_id = tg.send_photo_from_user(USER, USER, photo_of(digit))
    [reply] = await tg.wait_for_replies(USER, 1)
    await bot.settle()

    tg.redeliver(USER, message_id)
    await tg.wait_for_calls("getFile", 2)
    await bot.settle()

    assert len(tg.calls_of("sendPhoto")) == 1
    assert tg.sent[USER] == [reply]
    assert (await bot.storage.user_stats(USER)).images == 1


def _gaps(calls: list[Call]) -> list[float]:
    """Seconds between consecutive calls, as the stand-in received them."""
    return [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]


async def test_telegram_flood_control_is_waited_out(bot: RunningBot, digit: np.ndarray) -> None:
    tg = bot.telegram
    tg.fail_next("sendPhoto", status=429, retry_after=1)

    tg.send_photo_from_user(USER, USER, photo_of(digit))
    [reply] = await tg.wait_for_replies(USER, 1)

    assert "photo" in reply
    [gap] = _gaps(tg.calls_of("sendPhoto"))
    assert gap >= 1.0  # Telegram's retry_after (the smallest it sends), not sooner


async def test_flood_control_is_retried_a_bounded_number_of_times(
    bot: RunningBot, digit: np.ndarray
) -> None:
    """Telegram still refusing after FLOOD_RETRIES waits: the user is told, not left waiting."""
    tg = bot.telegram
    tg.fail_next("sendPhoto", status=429, retry_after=1, times=FLOOD_RETRIES + 1)

    tg.send_photo_from_user(USER, USER, photo_of(digit))
    [reply] = await tg.wait_for_replies(USER, 1)

    assert reply.get("text") == texts.WORKING_ON_IT_FAILED
    gaps = _gaps(tg.calls_of("sendPhoto"))
    assert len(gaps) == FLOOD_RETRIES
    assert min(gaps) >= 1.0


async def test_an_unexpected_failure_is_logged_and_the_user_told(
    bot: RunningBot, digit: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    tg = bot.telegram
    tg.fail_next("sendPhoto", status=500, description="Internal Server Error", retry_after=None)

    tg.send_photo_from_user(USER, USER, photo_of(digit))
    [reply] = await tg.wait_for_replies(USER, 1)

    assert reply["text"] == texts.WORKING_ON_IT_FAILED
    assert any(r.message == "failed to handle an update" for r in caplog.records)
    tg.send_text(USER, USER, "/help")
    assert (await tg.wait_for_replies(USER, 2))[-1]["text"] == texts.help_text("en")


async def test_a_slow_picture_does_not_hold_up_other_users(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    huge = photo_of(digit, size=4000, fmt="PNG")
    tg.send_document_from_user(USER, USER, huge, file_name="scan.png", mime_type="image/png")
    await tg.wait_for_calls("getFile", 1)

    tg.send_text(OTHER, OTHER, "/help")
    await tg.wait_for_replies(OTHER, 1)
    await tg.wait_for_replies(USER, 1)

    order = [
        (c.method, int(c.params["chat_id"]))
        for c in tg.calls
        if c.method in ("sendMessage", "sendPhoto")
    ]
    assert order == [("sendMessage", OTHER), ("sendPhoto", USER)]


async def test_admins_hear_of_failures_in_telegram(
    tmp_path: Path, model_path: Path, digit: np.ndarray
) -> None:
    async with running_bot(tmp_path, model_path, notify_telegram_admins=True) as bot:
        tg = bot.telegram
        tg.fail_next("sendPhoto", status=500, description="Internal Server Error", retry_after=None)
        tg.send_photo_from_user(USER, USER, photo_of(digit))
        [told] = await tg.wait_for_replies(USER, 1)
        started, alert = await tg.wait_for_replies(ADMIN_ID, 2)

    assert told["text"] == texts.WORKING_ON_IT_FAILED
    assert started["text"].startswith("▶️ Digit bot started")
    assert alert["text"].startswith("Bot error: ")
    assert "Internal Server Error" not in alert["text"]


async def test_no_poll_goes_out_while_the_ledger_is_full() -> None:
    """A bot behind its work leaves new updates at Telegram instead of re-reading its own."""
    ledger = UpdateLedger(max_in_hand=2)
    ledger.took([7, 8])
    room = asyncio.create_task(ledger.wait_for_room())
    await asyncio.sleep(0.05)
    assert not room.done()

    ledger.finished(8)

    await asyncio.wait_for(room, 1)
    assert ledger.offset(9) == 7  # 7 is still in hand: Telegram must keep it
    ledger.took([9])
    full_again = asyncio.create_task(ledger.wait_for_room())
    await asyncio.sleep(0.05)
    assert not full_again.done()
    full_again.cancel()


async def test_a_webhook_update_is_put_only_once_handled() -> None:
    """Telegram's POST is answered when `put` returns: only after the update is finished."""
    ledger = UpdateLedger()
    queue = HandledQueue(ledger)
    update = Update(update_id=41)
    put = asyncio.create_task(queue.put(update))
    taken = await asyncio.wait_for(queue.get(), 1)
    await asyncio.sleep(0.05)
    assert taken is update
    assert not put.done()

    ledger.finished(40)
    await asyncio.sleep(0.05)
    assert not put.done()
    ledger.finished(41)

    await asyncio.wait_for(put, 1)


async def test_a_dropped_webhook_request_does_not_cancel_a_second_delivery() -> None:
    ledger = UpdateLedger()
    queue = HandledQueue(ledger)
    first = asyncio.create_task(queue.put(Update(update_id=5)))
    second = asyncio.create_task(queue.put(Update(update_id=5)))
    await asyncio.sleep(0.05)
    first.cancel()  # Telegram gave up on the first request
    await asyncio.sleep(0.05)
    assert not second.done()

    ledger.finished(5)

    await asyncio.wait_for(second, 1)
    assert queue.qsize() == 2


async def test_a_draining_webhook_answers_what_it_holds_and_refuses_new_deliveries() -> None:
    """A stop waits for the requests in hand (their 200s), and new ones get a 503 Telegram
    retries; a request that never finishes lets the drain give up after its time."""
    ledger = UpdateLedger()
    queue = HandledQueue(ledger)
    held = asyncio.create_task(queue.put(Update(update_id=7)))
    await asyncio.wait_for(queue.get(), 1)
    drain = asyncio.create_task(queue.drain(within=5))
    await asyncio.sleep(0.05)
    assert not drain.done()
    with pytest.raises(HTTPError) as refused:
        await queue.put(Update(update_id=8))
    assert refused.value.status_code == 503
    assert queue.qsize() == 0  # the refused update was not queued

    ledger.finished(7)

    assert await asyncio.wait_for(drain, 1) is True
    assert held.done()

    stuck = HandledQueue(UpdateLedger())
    hanging = asyncio.create_task(stuck.put(Update(update_id=9)))
    await asyncio.sleep(0.01)
    assert await stuck.drain(within=0.05) is False
    hanging.cancel()
