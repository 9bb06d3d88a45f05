"""End to end: an admin's /stats brings a picture of the real stored feedback; users' does not."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bot_harness import ADMIN_ID, RunningBot, photo_of, running_bot
from PIL import Image

from bot.admin_pictures import WIDTH, cluster_digits, stats_picture
from model.data import Mnist

USERS = (901, 902)


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path) as running:
        running.telegram.languages[ADMIN_ID] = "fr"
        yield running


async def test_an_admins_stats_bring_the_picture_of_the_stored_feedback(
    bot: RunningBot, mnist: Mnist
) -> None:
    tg = bot.telegram
    said = {}
    for user, index, digit in [(USERS[0], 0, 7), (USERS[1], 1, 3)]:
        message_id = tg.send_photo_from_user(user, user, photo_of(mnist.test_images[index]))
        [reply] = await tg.wait_for_replies(user, 1)
        stored = await bot.storage.find_image(user, message_id)
        assert stored is not None
        tg.press_button(user, user, reply["message_id"], f"fb:{stored.id}:{digit}")
        said[(stored.cluster, digit)] = said.get((stored.cluster, digit), 0) + 1
    await tg.wait_for_calls("editMessageReplyMarkup", 2)

    tg.send_text(USERS[0], USERS[0], "/stats")
    tg.send_text(ADMIN_ID, ADMIN_ID, "/stats")
    text, picture = await tg.wait_for_replies(ADMIN_ID, 2)
    own = (await tg.wait_for_replies(USERS[0], 2))[-1]

    assert "photo" not in own
    assert text["text"].startswith("Vous ne m'avez encore envoyé aucune photo.")
    assert "Tous les utilisateurs\u00a0: 2 photos de 2 utilisateurs" in text["text"]
    activity = await bot.storage.activity(datetime.now(UTC))
    assert activity.feedback == said
    assert sum(activity.photos.values()) + sum(activity.outliers.values()) == 2
    model = bot.models.current
    sent = tg.uploads[picture["photo"][0]["file_id"]]
    assert sent == stats_picture("fr", activity, model.k, cluster_digits(model))
    assert Image.open(io.BytesIO(sent)).width == WIDTH
