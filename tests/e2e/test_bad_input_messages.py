"""Bad and unusual messages, commands and buttons, end to end, against one bot per module.

Each test acts from users of its own, asserts the reply, and checks the database holds only
what it should: nothing for refusals, the right owner for what is kept.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from bot import texts
from testkit import bad_inputs
from testkit.bot_harness import ADMIN_ID, RunningBot, running_bot
from testkit.fake_telegram import BOT_USERNAME

pytestmark = pytest.mark.asyncio(loop_scope="module")

_users = itertools.count(30_001)
SQL = "'; DROP TABLE images; --"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path
) -> AsyncIterator[RunningBot]:
    async with running_bot(tmp_path_factory.mktemp("bad-messages"), model_path) as running:
        yield running


async def _next_reply(bot: RunningBot, chat: int, send: Any) -> dict[str, Any]:
    """Do `send()` and return the bot's next message in `chat`."""
    before = len(bot.telegram.sent.get(chat, []))
    send()
    replies = await bot.telegram.wait_for_replies(chat, before + 1)
    await bot.settle()
    assert len(bot.telegram.sent[chat]) == before + 1
    return replies[-1]


async def _say(bot: RunningBot, user: int, text: str, chat: int | None = None) -> str:
    chat = user if chat is None else chat
    reply = await _next_reply(bot, chat, lambda: bot.telegram.send_text(user, chat, text))
    return str(reply.get("text"))


async def _answer(bot: RunningBot, query_id: str) -> dict[str, Any]:
    """The bot's answerCallbackQuery for `query_id`."""

    def answered() -> list[dict[str, Any]]:
        return [
            c.params
            for c in bot.telegram.calls_of("answerCallbackQuery")
            if c.params["callback_query_id"] == query_id
        ]

    await bot.telegram.wait_until(lambda: bool(answered()))
    await bot.settle()
    [params] = answered()
    return params


async def _photo(bot: RunningBot, user: int, digit: np.ndarray) -> tuple[int, dict[str, Any]]:
    """Send a photo; returns the stored image id and the reply."""
    message_id = 0

    def send() -> None:
        nonlocal message_id
        message_id = bot.telegram.send_photo_from_user(user, user, bad_inputs.jpeg(digit))

    reply = await _next_reply(bot, user, send)
    stored = await bot.storage.find_image(user, message_id)
    assert stored is not None
    return stored.id, reply


async def _total_images(bot: RunningBot) -> int:
    return (await bot.storage.global_stats(datetime.now(UTC))).images


@pytest.mark.parametrize(
    "text",
    [
        "/cluster abc",
        "/cluster 99",
        "/cluster -1",
        "/cluster 3.5",
        "/cluster 99999999999999999999999999999",
        "/cluster 1 2",
        f"/cluster {SQL}",
    ],
)
async def test_cluster_with_a_bad_number_explains_the_range(bot: RunningBot, text: str) -> None:
    reply = await _say(bot, next(_users), text)

    assert reply == texts.CLUSTER_USAGE.format(last=bot.models.current.k - 1)


@pytest.mark.parametrize(
    "text",
    [
        SQL,
        "\u200b",
        "😀" * 1000,
        "مرحبا، ما هذا؟",
        "/cluster@someone_elses_bot",
    ],
)
async def test_text_that_is_not_a_picture_is_told_what_to_send(bot: RunningBot, text: str) -> None:
    user = next(_users)
    before = await _total_images(bot)

    reply = await _say(bot, user, text)

    assert reply in (texts.NOT_AN_IMAGE, texts.help_text("en"))
    assert await _total_images(bot) == before


async def test_a_command_addressed_to_this_bot_by_name_works(bot: RunningBot) -> None:
    reply = await _say(bot, next(_users), f"/cluster@{BOT_USERNAME} abc")

    assert reply == texts.CLUSTER_USAGE.format(last=bot.models.current.k - 1)


@pytest.mark.parametrize(
    "content",
    [
        {"location": {"latitude": 52.5, "longitude": 13.4}},
        {"contact": {"phone_number": "+100", "first_name": "x"}},
        {"dice": {"emoji": "🎲", "value": 3}},
    ],
    ids=["location", "contact", "dice"],
)
async def test_other_message_kinds_are_told_what_to_send(
    bot: RunningBot, content: dict[str, Any]
) -> None:
    user = next(_users)
    reply = await _next_reply(bot, user, lambda: bot.telegram.send_message(user, user, **content))

    assert reply["text"] == texts.NOT_AN_IMAGE


async def test_rtl_and_emoji_names_are_kept_exactly_and_shown(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    _, first = await _photo(bot, user, digit)
    cluster = int(first["caption"].split("cluster ")[1].split(".")[0].split(" ")[0])
    name = "سبعة 👩‍👩‍👧 ٧"

    reply = await _say(bot, ADMIN_ID, f"/name {cluster} {name}")
    _, second = await _photo(bot, user, digit)

    assert reply == texts.cluster_named("en", cluster, name)
    assert (await bot.storage.cluster_names())[cluster] == name
    assert f"“{name}”" in second["caption"]


async def test_sql_looking_names_are_stored_as_text(bot: RunningBot) -> None:
    before = await _total_images(bot)

    reply = await _say(bot, ADMIN_ID, f"/name 1 {SQL}")

    assert reply == texts.cluster_named("en", 1, SQL)
    assert (await bot.storage.cluster_names())[1] == SQL
    assert await _total_images(bot) == before


async def test_names_longer_than_the_limit_in_emoji_are_refused(bot: RunningBot) -> None:
    names_before = await bot.storage.cluster_names()

    reply = await _say(bot, ADMIN_ID, "/name 2 " + "👍🏽" * texts.NAME_MAX_LENGTH)

    assert reply == texts.name_usage("en", bot.models.current.k)
    assert await bot.storage.cluster_names() == names_before


async def test_a_photo_with_a_huge_caption_is_answered_once(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    caption = "x" * 1024 + " /forget " + SQL

    reply = await _next_reply(
        bot,
        user,
        lambda: bot.telegram.send_message(
            user, user, caption=caption, photo=_photo_sizes(bot, bad_inputs.jpeg(digit))
        ),
    )

    assert reply["caption"].startswith("This looks like cluster")
    assert (await bot.storage.user_stats(user)).images == 1


def _photo_sizes(bot: RunningBot, data: bytes) -> list[dict[str, Any]]:
    file_id = bot.telegram.add_file(data, "photos/file.jpg")
    size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}
    return [size | {"width": 280, "height": 280}]


async def test_a_forwarded_photo_is_kept_for_the_forwarder(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user, author = next(_users), next(_users)
    origin = {
        "type": "user",
        "date": 0,
        "sender_user": {"id": author, "is_bot": False, "first_name": "a"},
    }
    message_id = 0

    def send() -> None:
        nonlocal message_id
        message_id = bot.telegram.send_message(
            user, user, forward_origin=origin, photo=_photo_sizes(bot, bad_inputs.jpeg(digit))
        )

    reply = await _next_reply(bot, user, send)

    stored = await bot.storage.find_image(user, message_id)
    assert reply["caption"].startswith("This looks like cluster")
    assert stored is not None
    assert stored.user_id == user
    assert (await bot.storage.user_stats(author)).images == 0


async def test_a_photo_in_a_group_is_answered_there_and_erased_by_its_sender(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user, group = next(_users), -1_000_000_000_000 - next(_users)
    message = {
        "message_id": 77,
        "date": int(time.time()),
        "chat": {"id": group, "type": "supergroup", "title": "digits"},
        "from": {"id": user, "is_bot": False, "first_name": "u"},
        "photo": _photo_sizes(bot, bad_inputs.jpeg(digit)),
    }

    reply = await _next_reply(bot, group, lambda: bot.telegram.push_update({"message": message}))
    stored = await bot.storage.find_image(group, 77)
    erased = await bot.storage.forget_user(user)

    assert reply["caption"].startswith("This looks like cluster")
    assert stored is not None
    assert stored.user_id == user
    assert erased == 1
    assert await bot.storage.find_image(group, 77) is None


async def test_an_edited_photo_message_is_not_answered_or_stored_again(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    data = bad_inputs.jpeg(digit)
    message_id = 0

    def send() -> None:
        nonlocal message_id
        message_id = bot.telegram.send_photo_from_user(user, user, data)

    await _next_reply(bot, user, send)
    edited = {
        "message_id": message_id,
        "date": int(time.time()),
        "edit_date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "u"},
        "from": {"id": user, "is_bot": False, "first_name": "u"},
        "caption": "edited",
        "photo": _photo_sizes(bot, data),
    }
    bot.telegram.push_update({"edited_message": edited})
    bot.telegram.send_text(user, user, "/help")
    await bot.telegram.wait_for_replies(user, 2)
    await bot.settle()

    assert [m.get("text") for m in bot.telegram.sent[user]][1:] == [texts.help_text("en")]
    assert (await bot.storage.user_stats(user)).images == 1


@pytest.mark.parametrize(
    "data",
    [
        "fb:99999999999999999999999999999999999999:3",
        "fb:1:10",
        "fb:abc:3",
        "forget",
        "something the bot never sent",
        "x" * 64,
    ],
)
async def test_forged_button_payloads_are_answered_and_change_nothing(
    bot: RunningBot, digit: np.ndarray, data: str
) -> None:
    user = next(_users)
    image_id, reply = await _photo(bot, user, digit)

    answer = await _answer(bot, bot.telegram.press_button(user, user, reply["message_id"], data))

    assert answer.get("text") in (texts.FEEDBACK_NOT_YOURS, texts.BUTTON_UNKNOWN)
    stored = await bot.storage.get_image(image_id)
    assert stored is not None
    assert stored.feedback_digit is None
    assert (await bot.storage.user_stats(user)).images == 1


async def test_replayed_feedback_keeps_the_last_answer_once(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    image_id, reply = await _photo(bot, user, digit)

    for choice in (7, 7, 3):
        query = bot.telegram.press_button(
            user, user, reply["message_id"], f"fb:{image_id}:{choice}"
        )
        answer = await _answer(bot, query)
        assert answer["text"] == texts.feedback_thanks("en", choice)

    stored = await bot.storage.get_image(image_id)
    assert stored is not None
    assert stored.feedback_digit == 3


async def test_feedback_for_someone_elses_image_changes_nothing(
    bot: RunningBot, digit: np.ndarray
) -> None:
    owner, other = next(_users), next(_users)
    image_id, reply = await _photo(bot, owner, digit)

    query = bot.telegram.press_button(other, other, reply["message_id"], f"fb:{image_id}:1")
    answer = await _answer(bot, query)

    assert answer["text"] == texts.FEEDBACK_NOT_YOURS
    stored = await bot.storage.get_image(image_id)
    assert stored is not None
    assert stored.feedback_digit is None


@pytest.mark.parametrize(
    "payload",
    ["forget:{other}:{now}", "forget:{user}:{future}", "forget:{user}:{past}"],
    ids=["another user's", "from the future", "expired"],
)
async def test_forged_forget_confirmations_erase_nothing(
    bot: RunningBot, digit: np.ndarray, payload: str
) -> None:
    user, other = next(_users), next(_users)
    await _photo(bot, user, digit)
    now = int(time.time())
    data = payload.format(user=user, other=other, now=now, future=now + 10**9, past=now - 3600)

    question = await _next_reply(bot, user, lambda: bot.telegram.send_text(user, user, "/forget"))
    await _answer(bot, bot.telegram.press_button(user, user, question["message_id"], data))

    assert (await bot.storage.user_stats(user)).images == 1


async def test_a_replayed_forget_confirmation_erases_only_what_is_new(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    await _photo(bot, user, digit)
    question = await _next_reply(bot, user, lambda: bot.telegram.send_text(user, user, "/forget"))
    yes = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    await _answer(bot, bot.telegram.press_button(user, user, question["message_id"], yes))
    first = bot.telegram.message(user, question["message_id"])
    assert first is not None
    assert first["text"] == texts.forgotten("en", 1)
    await _answer(bot, bot.telegram.press_button(user, user, question["message_id"], yes))

    assert (await bot.storage.user_stats(user)).images == 0
    assert bot.telegram.message(user, question["message_id"])["text"] == texts.forgotten("en", 0)
