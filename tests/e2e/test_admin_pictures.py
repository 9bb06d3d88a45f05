"""End to end: an admin's /stats brings a picture of the real stored feedback (users' does not);
a finished retraining reaches admins in Telegram with the new (or rejected) model's sheet."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from bot.admin_pictures import WIDTH, cluster_digits, model_sheet, stats_picture
from bot.context import NOTIFIER, RETRAINER
from model.mnist import Mnist
from model.serving.modelfile import DigitModel, load_model
from testkit.bot_harness import ADMIN_ID, RunningBot, photo_of, running_bot
from testkit.fake_notify import FakeNotifyRun

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
        said[(stored.digit.cluster, digit)] = said.get((stored.digit.cluster, digit), 0) + 1
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


LINK = "https://status.example.org/digits"


async def _retrain_as_admin(
    tmp_path: Path, model_path: Path, mnist_dir: Path, fake_notify: FakeNotifyRun, min_acc: float
) -> tuple[RunningBot, str, DigitModel]:
    """A quick real retraining asked by the admin, pushes in French to notify.run and Telegram;
    returns the stopped bot, the run's outcome and the model served at its end."""
    async with running_bot(
        tmp_path,
        model_path,
        notify_run_endpoint=fake_notify.url,
        notify_telegram_admins=True,
        status_url=LINK,
        mnist_dir=mnist_dir,
        retrain_limit=1000,
        retrain_min_acc=min_acc,
        retrain_acc_margin=1.0,  # a model trained on 1,000 digits is far below the shipped one
        retrain_max_moved=1.0,
        push_language="fr",
    ) as bot:
        bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")
        await asyncio.to_thread(fake_notify.wait_for_posts, 2)  # started, then retraining
        outcome = await bot.application.bot_data[RETRAINER].wait()
        await bot.application.bot_data[NOTIFIER].flush()
        return bot, outcome, bot.models.current


def _sheet_sent(bot: RunningBot, caption_start: str, fake_notify: FakeNotifyRun) -> bytes:
    """The one photo the admin got: captioned like the notify.run text, which has the link."""
    [ended] = [post for post in fake_notify.posts if post.message.startswith(caption_start)]
    assert ended.action == LINK
    [photo] = [m for m in bot.telegram.sent[ADMIN_ID] if "photo" in m]
    assert photo["caption"] == f"{ended.message}\n{LINK}"
    sheet = bot.telegram.uploads[photo["photo"][0]["file_id"]]
    assert Image.open(io.BytesIO(sheet)).width == WIDTH
    others = [m["text"] for m in bot.telegram.sent[ADMIN_ID] if "photo" not in m]
    assert f"🔄 Réentraînement lancé (admin {ADMIN_ID})\n{LINK}" in others
    return sheet


@pytest.mark.slow
async def test_a_new_model_reaches_admins_with_its_sheet_and_notify_run_as_text(
    tmp_path: Path, model_path: Path, mnist_dir: Path, fake_notify: FakeNotifyRun
) -> None:
    bot, outcome, new = await _retrain_as_admin(
        tmp_path, model_path, mnist_dir, fake_notify, min_acc=0.3
    )

    assert outcome == "succeeded"
    sheet = _sheet_sent(bot, "✅ Réentraîné en ", fake_notify)
    assert any(f"modèle {new.version}" in message for message in fake_notify.messages)
    assert sheet == model_sheet("fr", new, mnist_dir)


@pytest.mark.slow
async def test_a_rejected_model_reaches_admins_with_its_sheet_too(
    tmp_path: Path, model_path: Path, mnist_dir: Path, fake_notify: FakeNotifyRun
) -> None:
    bot, outcome, served = await _retrain_as_admin(
        tmp_path, model_path, mnist_dir, fake_notify, min_acc=0.999
    )

    assert outcome == "rejected"
    sheet = _sheet_sent(bot, "⚠️ Nouveau modèle refusé", fake_notify)
    assert served.version == load_model(model_path).version
    assert sheet != model_sheet("fr", served, mnist_dir)  # the candidate's, not the served one
