"""End to end: /export through the real bot and the Bot API stand-in, in English and French.

The zips are read back from what the bot uploaded (sendDocument) and checked against the
store's rows, read there by a path of their own (`get_image`).
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot import texts
from bot.export_archive import CSV_NAME, UPLOAD_LIMIT
from bot.i18n import moment
from bot.storage import StoredImage
from testkit.bot_harness import RunningBot, page_of, photo_of, running_bot
from testkit.records import make_image

OWNER, OTHER, FRENCH, NEWCOMER = 901, 902, 903, 904
NBSP = "\u00a0"


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path) as running:
        running.telegram.languages[FRENCH] = "fr"
        yield running


async def _send(bot: RunningBot, user: int, text: str) -> dict[str, Any]:
    """The user sends `text`; the bot's next message to them."""
    count = len(bot.telegram.sent.get(user, []))
    bot.telegram.send_text(user, user, text)
    return (await bot.telegram.wait_for_replies(user, count + 1, within=60))[-1]


async def _photo(bot: RunningBot, user: int, data: bytes) -> list[StoredImage]:
    """The user sends a photo; every digit the bot stored of it."""
    count = len(bot.telegram.sent.get(user, []))
    message_id = bot.telegram.send_photo_from_user(user, user, data, width=900, height=300)
    await bot.telegram.wait_for_replies(user, count + 1)
    await bot.settle()
    first = await bot.storage.find_image(user, message_id)
    assert first is not None
    if first.reply_message_id is None or first.digit_count == 1:
        return [first]
    return await bot.storage.reply_digits(user, first.reply_message_id)


def _archive(bot: RunningBot, reply: dict[str, Any]) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(bot.telegram.uploads[reply["document"]["file_id"]]))


def _records(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(CSV_NAME).decode())))


def _forget(bot: RunningBot, user: int, question: dict[str, Any]) -> None:
    yes, _ = question["reply_markup"]["inline_keyboard"][0]
    bot.telegram.press_button(user, user, question["message_id"], yes["callback_data"])


async def test_the_zip_holds_the_users_photos_digits_and_records_and_nobody_elses(
    bot: RunningBot, digits: np.ndarray
) -> None:
    single_photo, (page, _) = photo_of(digits[0]), page_of([digits[1:4]])
    single = await _photo(bot, OWNER, single_photo)
    several = await _photo(bot, OWNER, page)
    theirs = await _photo(bot, OTHER, photo_of(digits[4]))
    assert single[0].reply_message_id is not None
    bot.telegram.press_button(OWNER, OWNER, single[0].reply_message_id, f"fb:{single[0].id}:7")
    await bot.telegram.wait_for_calls("answerCallbackQuery", 1)
    mine = [
        stored
        for row in single + several
        if (stored := await bot.storage.get_image(row.id)) is not None
    ]

    asked = datetime.now(UTC)
    reply = await _send(bot, OWNER, "/export")
    answered = datetime.now(UTC)

    assert len(several) == 3
    assert reply["document"]["file_name"] == "digit-cluster-bot-data.zip"
    assert reply["document"]["mime_type"] == "application/zip"
    assert reply["caption"] == texts.export_caption("en", 1, 1, 2, 4)
    assert reply["caption"].startswith("Your data: 2 photos, 4 digits.\n")
    archive = _archive(bot, reply)
    photos = sorted(name for name in archive.namelist() if name.startswith("photos/"))
    assert [archive.read(name) for name in photos] == [single_photo, page]
    records = _records(archive)
    assert len(records) == len(mine) == 4
    for stored, record in zip(mine, records, strict=True):
        png = Image.open(io.BytesIO(archive.read(record["digit_file"])))
        np.testing.assert_array_equal(np.asarray(png), stored.digit.mnist)
        sent = single_photo if stored.id == single[0].id else page
        assert archive.read(record["photo_file"]) == sent
        assert record["received_at"] == stored.received_at.isoformat()
        assert (record["chat_id"], record["message_id"]) == (str(OWNER), str(stored.message_id))
        assert int(record["cluster"]) == stored.digit.cluster
        assert float(record["distance"]) == stored.digit.distance
        assert float(record["typicality"]) == stored.digit.typicality
        assert record["model_version"] == stored.model_version == bot.models.current.version
        assert (int(record["digit_index"]), int(record["digit_count"])) == (
            stored.digit_index,
            stored.digit_count,
        )
        box = [record[f"box_{corner}"] for corner in ("x0", "y0", "x1", "y1")]
        assert box == ([str(v) for v in stored.digit.box] if stored.digit.box else [""] * 4)
    assert [r["feedback_digit"] for r in records] == ["7", "", "", ""]
    assert len(archive.namelist()) == 2 + 4 + 1
    other = theirs[0]
    assert all(r["message_id"] != str(other.message_id) for r in records)
    assert all(archive.read(name) != other.original for name in photos)

    refusal = await _send(bot, OWNER, "/export")
    when = re.fullmatch(
        r"You can have your data once an hour\. Ask again in 60 minutes \(from (.+)\)\.",
        refusal["text"],
    )
    assert when is not None, refusal["text"]
    hour = timedelta(hours=1)
    assert when.group(1) in {moment("en", asked + hour), moment("en", answered + hour)}
    assert len(bot.telegram.calls_of("sendDocument")) == 1

    reply = await _send(bot, OTHER, "/export")
    records = _records(_archive(bot, reply))
    assert [r["message_id"] for r in records] == [str(other.message_id)]


async def test_in_french_nothing_stored_then_the_zip_the_limit_and_nothing_after_forget(
    bot: RunningBot, digits: np.ndarray
) -> None:
    nothing = await _send(bot, FRENCH, "/export")
    assert nothing["text"] == texts.say("fr", texts.NOTHING_STORED)
    assert nothing["text"] == (
        f"Je n'ai rien gardé sur vous{NBSP}: ni photo ni donnée, il n'y a donc rien à exporter."
    )
    [stored] = await _photo(bot, FRENCH, photo_of(digits[5]))

    reply = await _send(bot, FRENCH, "/export")
    assert reply["caption"].startswith(f"Vos données{NBSP}: 1 photo, 1 chiffre.\nDedans{NBSP}: ")
    [record] = _records(_archive(bot, reply))
    assert record["message_id"] == str(stored.message_id)
    refusal = await _send(bot, FRENCH, "/export")
    assert refusal["text"].startswith(
        "Vous pouvez avoir vos données une fois par heure. Redemandez-les dans 60 minutes "
        "(à partir du "
    )

    _forget(bot, FRENCH, await _send(bot, FRENCH, "/forget"))
    await bot.telegram.wait_for_calls("editMessageText", 1)
    after = await _send(bot, FRENCH, "/export")

    assert after["text"] == texts.say("fr", texts.NOTHING_STORED)
    assert len(bot.telegram.calls_of("sendDocument")) == 1


async def test_someone_who_never_sent_anything_is_told_so_each_time(bot: RunningBot) -> None:
    for _ in range(2):
        reply = await _send(bot, NEWCOMER, "/export")
        assert reply["text"] == texts.say("en", texts.NOTHING_STORED)
        assert "nothing stored" in reply["text"]
    assert not bot.telegram.calls_of("sendDocument")


async def test_in_a_group_the_data_is_not_sent_and_the_hour_not_spent(
    bot: RunningBot, digits: np.ndarray
) -> None:
    group = -1_000_000_000_901
    await _photo(bot, OWNER, photo_of(digits[0]))
    command = {
        "message_id": 78,
        "date": int(time.time()),
        "chat": {"id": group, "type": "supergroup", "title": "digits"},
        "from": {"id": OWNER, "is_bot": False, "first_name": "owner"},
        "text": "/export",
        "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
    }

    bot.telegram.push_update({"message": command})
    [note] = await bot.telegram.wait_for_replies(group, 1)
    reply = await _send(bot, OWNER, "/export")

    assert note["text"] == texts.say("en", texts.EXPORT_IN_PRIVATE)
    assert [call.params["chat_id"] for call in bot.telegram.calls_of("sendDocument")] == [
        str(OWNER)
    ]
    assert "document" in reply


async def test_an_export_telegram_refused_does_not_spend_the_hour(
    bot: RunningBot, digits: np.ndarray
) -> None:
    await _photo(bot, OWNER, photo_of(digits[0]))
    bot.telegram.fail_next(
        "sendDocument", status=400, description="Bad Request: file is broken", retry_after=None
    )

    failed = await _send(bot, OWNER, "/export")
    await bot.settle()
    reply = await _send(bot, OWNER, "/export")

    assert failed["text"] == texts.say("en", texts.WORKING_ON_IT_FAILED)
    assert len(bot.telegram.calls_of("sendDocument")) == 2
    assert "document" in reply


async def test_photos_past_telegrams_limit_come_as_parts_each_complete_and_under_it(
    bot: RunningBot,
) -> None:
    sizes = [20 * 2**20, 19 * 2**20, 18 * 2**20]
    originals = [np.random.default_rng(n).bytes(size) for n, size in enumerate(sizes)]
    for message_id, original in enumerate(originals, start=1):
        await bot.storage.save_image(
            make_image(message_id, chat_id=OWNER, user_id=OWNER, original=original)
        )

    await _send(bot, OWNER, "/export")
    replies = await bot.telegram.wait_for_replies(OWNER, 2, within=120)

    assert [r["caption"].splitlines()[0] for r in replies] == [
        "Your data, part 1 of 2: 2 photos, 2 digits.",
        "Your data, part 2 of 2: 1 photo, 1 digit.",
    ]
    assert [r["document"]["file_name"] for r in replies] == [
        "digit-cluster-bot-data-part-1-of-2.zip",
        "digit-cluster-bot-data-part-2-of-2.zip",
    ]
    found = []
    for reply in replies:
        assert reply["document"]["file_size"] <= UPLOAD_LIMIT
        archive = _archive(bot, reply)
        records = _records(archive)
        assert {r["photo_file"] for r in records} | {r["digit_file"] for r in records} == (
            set(archive.namelist()) - {CSV_NAME}
        )
        found += [archive.read(r["photo_file"]) for r in records]
    assert found == originals


async def test_replicas_on_one_database_allow_one_export_an_hour_between_them(
    tmp_path: Path, model_path: Path, database_url: str, digits: np.ndarray
) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    for home in homes:
        home.mkdir()
    async with (
        running_bot(homes[0], model_path, database_url=database_url) as first,
        running_bot(homes[1], model_path, database_url=database_url) as second,
    ):
        await _photo(first, OWNER, photo_of(digits[0]))
        assert "document" in await _send(first, OWNER, "/export")
        refusal = await _send(second, OWNER, "/export")

    assert refusal["text"].startswith("You can have your data once an hour.")
    assert not second.telegram.calls_of("sendDocument")
