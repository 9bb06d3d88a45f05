"""End to end: an admin's /stats brings a picture of the real stored feedback (users' does not);
a finished retraining reaches admins in Telegram with the new model's sheet."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bot_harness import ADMIN_ID, RunningBot, photo_of, running_bot
from fake_notify import FakeNotifyRun
from PIL import Image

from bot.admin_pictures import WIDTH, cluster_digits, model_sheet, stats_picture
from bot.context import NOTIFIER, RETRAINER
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


@pytest.mark.slow
async def test_a_finished_retraining_reaches_admins_with_the_model_sheet_and_notify_run_as_text(
    tmp_path: Path, model_path: Path, mnist_dir: Path, fake_notify: FakeNotifyRun
) -> None:
    link = "https://status.example.org/digits"
    async with running_bot(
        tmp_path,
        model_path,
        notify_run_endpoint=fake_notify.url,
        notify_telegram_admins=True,
        status_url=link,
        mnist_dir=mnist_dir,
        retrain_limit=1000,
        retrain_min_acc=0.3,
        push_language="fr",
    ) as bot:
        bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")
        await asyncio.to_thread(fake_notify.wait_for_posts, 2)  # started, then retraining
        assert await bot.application.bot_data[RETRAINER].wait() == "succeeded"
        await bot.application.bot_data[NOTIFIER].flush()
        new = bot.models.current

    posts = await asyncio.to_thread(fake_notify.wait_for_posts, 3)
    finished = [post for post in posts if post.message.startswith("✅")]
    assert [post.action for post in finished] == [link]
    assert finished[0].message.startswith("✅ Réentraîné en ")
    assert f"modèle {new.version}" in finished[0].message
    [photo] = [m for m in bot.telegram.sent[ADMIN_ID] if "photo" in m]
    assert photo["caption"] == f"{finished[0].message}\n{link}"
    sheet = bot.telegram.uploads[photo["photo"][0]["file_id"]]
    assert sheet == model_sheet("fr", new, mnist_dir)
    assert Image.open(io.BytesIO(sheet)).width == WIDTH
    others = [m["text"] for m in bot.telegram.sent[ADMIN_ID] if "photo" not in m]
    assert f"🔄 Réentraînement lancé (admin {ADMIN_ID})\n{link}" in others
