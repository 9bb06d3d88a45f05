"""End to end: /start, /help, /model, /cluster, the admin commands and /stats."""

from __future__ import annotations

import io

from PIL import Image
from telegram.ext import CommandHandler

from bot import texts
from bot.i18n import percent
from model.mnist import Mnist
from testkit.bot_harness import ADMIN_ID, RunningBot, photo_of

USER, CHAT = 701, 701


async def test_commands_are_registered_at_start(bot: RunningBot) -> None:
    [call] = [
        c
        for c in bot.telegram.calls_of("setMyCommands")
        if "scope" not in c.params and "language_code" not in c.params
    ]
    names = [command["command"] for command in call.params["commands"]]
    assert names == [name for name, _ in texts.COMMANDS]


async def test_start_and_help_say_what_the_bot_does_and_list_commands(bot: RunningBot) -> None:
    bot.telegram.send_text(USER, CHAT, "/start")
    bot.telegram.send_text(USER, CHAT, "/help")
    bot.telegram.send_text(USER, CHAT, "/nonsense")

    replies = await bot.telegram.wait_for_replies(CHAT, 3)

    assert [r["text"] for r in replies] == [texts.help_text("en")] * 3
    handled = {
        command
        for handler in bot.application.handlers[0]
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    assert {"cluster", "forget", "retrain"} <= handled
    for command in handled:  # every command the bot answers is in the help it sends
        assert f"/{command} " in replies[0]["text"], command


async def test_model_reports_version_training_and_metrics(bot: RunningBot) -> None:
    bot.telegram.send_text(USER, CHAT, "/model")

    [reply] = await bot.telegram.wait_for_replies(CHAT, 1)

    model = bot.models.current
    assert model.version in reply["text"]
    assert f"{model.metadata['n_train']:,}" in reply["text"]
    if model.metadata.get("metrics"):
        # Babel's rounding (half to even on the decimal value: 0.9885 is 98.8%), not Python's.
        assert percent("en", model.metadata["metrics"]["acc"], 1) in reply["text"]


async def test_cluster_shows_its_samples_and_explains_bad_numbers(bot: RunningBot) -> None:
    tg = bot.telegram
    k = bot.models.current.k
    for text in ["/cluster 3", "/cluster", "/cluster three", f"/cluster {k}", "/cluster -1"]:
        tg.send_text(USER, CHAT, text)
        await tg.wait_for_replies(CHAT, len(tg.sent.get(CHAT, [])) + 1)

    grid, *refusals = tg.sent[CHAT]

    assert "cluster 3" in grid["caption"]
    picture = Image.open(io.BytesIO(tg.uploads[grid["photo"][0]["file_id"]]))
    assert picture.width > picture.height
    assert [r["text"] for r in refusals] == [texts.CLUSTER_USAGE.format(last=k - 1)] * 4


async def test_name_is_admin_only_and_shows_in_captions(bot: RunningBot, mnist: Mnist) -> None:
    tg = bot.telegram
    photo = photo_of(mnist.test_images[0])
    first = tg.send_photo_from_user(USER, CHAT, photo)
    await tg.wait_for_replies(CHAT, 1)
    stored = await bot.storage.find_image(CHAT, first)
    assert stored is not None
    cluster = stored.digit.cluster

    tg.send_text(USER, CHAT, f"/name {cluster} sneaky")
    refusal = (await tg.wait_for_replies(CHAT, 2))[-1]
    assert refusal["text"] == texts.ADMIN_ONLY
    assert await bot.storage.cluster_names() == {}

    long_name = "x" * (texts.NAME_MAX_LENGTH + 1)
    tg.send_text(ADMIN_ID, ADMIN_ID, f"/name {cluster} {long_name}")
    tg.send_text(ADMIN_ID, ADMIN_ID, f"/name {cluster}")
    await tg.wait_for_replies(ADMIN_ID, 2)
    tg.send_text(ADMIN_ID, ADMIN_ID, f"/name {cluster} семь 七")
    replies = await tg.wait_for_replies(ADMIN_ID, 3)
    usage = texts.name_usage("en", bot.models.current.k)
    assert [r["text"] for r in replies[:2]] == [usage, usage]
    assert replies[2]["text"] == texts.cluster_named("en", cluster, "семь 七")
    assert await bot.storage.cluster_names() == {cluster: "семь 七"}

    tg.send_photo_from_user(USER, CHAT, photo)
    reply = (await tg.wait_for_replies(CHAT, 3))[-1]
    assert f"cluster {cluster} “семь 七”" in reply["caption"]


async def test_retrain_refuses_non_admins_and_runs_nothing(bot: RunningBot) -> None:
    bot.telegram.send_text(USER, CHAT, "/retrain")

    [reply] = await bot.telegram.wait_for_replies(CHAT, 1)

    assert reply["text"] == texts.ADMIN_ONLY
    assert await bot.storage.last_retrain() is None


async def test_stats_are_own_counts_for_users_and_totals_for_admins(
    bot: RunningBot, mnist: Mnist
) -> None:
    tg = bot.telegram
    digits = mnist.test_images[:2]
    tg.send_text(USER, CHAT, "/stats")
    [empty] = await tg.wait_for_replies(CHAT, 1)
    assert empty["text"] == texts.user_stats("en", 0, 0, 0, {})

    for digit in digits:
        tg.send_photo_from_user(USER, CHAT, photo_of(digit))
    await tg.wait_for_replies(CHAT, 3)
    tg.send_text(USER, CHAT, "/stats")
    tg.send_text(ADMIN_ID, ADMIN_ID, "/stats")
    own = (await tg.wait_for_replies(CHAT, 4))[-1]["text"]
    admin, picture = await tg.wait_for_replies(ADMIN_ID, 2)  # the picture: test_bot_admin_pictures

    assert own.startswith("You have sent me 2 photos")
    assert "All users" not in own
    assert admin["text"].startswith(texts.user_stats("en", 0, 0, 0, {}))
    assert "All users: 2 photos from 1 user, 2 today." in admin["text"]
    assert "Last retraining: never." in admin["text"]
    assert "photo" in picture


async def test_retrain_by_an_admin_while_another_run_holds_the_lock(bot: RunningBot) -> None:
    held = await bot.storage.try_start_retrain("schedule", "another-host:1")
    assert held is not None

    bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")

    [reply] = await bot.telegram.wait_for_replies(ADMIN_ID, 1)
    assert reply["text"] == texts.RETRAIN_BUSY
    last = await bot.storage.last_retrain()
    assert last is not None
    assert last.id == held
