"""End to end: a French Telegram user is answered in French, an Italian one in English."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from bot import texts
from testkit.bot_harness import ADMIN_ID, RunningBot, photo_of, running_bot
from testkit.fake_notify import FakeNotifyRun

FRENCH, ITALIAN = 611, 612
NBSP = "\u00a0"


@pytest.fixture
async def bot(tmp_path: Path, model_path: Path):
    async with running_bot(tmp_path, model_path) as running:
        running.telegram.languages |= {FRENCH: "fr", ITALIAN: "it"}
        yield running


async def _next_reply(bot: RunningBot, user: int, text: str) -> dict:
    count = len(bot.telegram.sent.get(user, []))
    bot.telegram.send_text(user, user, text)
    return (await bot.telegram.wait_for_replies(user, count + 1))[-1]


async def test_a_french_user_goes_through_a_photo_help_stats_and_forget_in_french(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    message_id = tg.send_photo_from_user(FRENCH, FRENCH, photo_of(digit))
    [reply] = await tg.wait_for_replies(FRENCH, 1)
    stored = await bot.storage.find_image(FRENCH, message_id)
    assert stored is not None
    assert reply["caption"].startswith(f"Cela ressemble au groupe {stored.digit.cluster}.\nIl est ")
    assert reply["caption"] == texts.reply_caption(
        "fr", stored.digit.cluster, stored.digit.typicality, stored.model_version, {}
    )
    assert f"Quel chiffre était-ce{NBSP}?" in reply["caption"]

    tg.press_button(FRENCH, FRENCH, reply["message_id"], f"fb:{stored.id}:7")
    [thanks] = await tg.wait_for_calls("answerCallbackQuery", 1)
    assert thanks.params["text"] == f"Merci{NBSP}! C'est noté{NBSP}: c'était un 7."

    help_reply = await _next_reply(bot, FRENCH, "/help")
    assert help_reply["text"] == texts.help_text("fr")
    assert help_reply["text"].startswith("Envoyez-moi la photo d'un chiffre écrit à la main")
    assert "/forget — effacer toutes vos photos" in help_reply["text"]

    stats = await _next_reply(bot, FRENCH, "/stats")
    assert stats["text"] == "\n".join(
        [
            "Vous m'avez envoyé 1 photo.",
            "0 d'entre elles ne ressemblait pas à un chiffre.",
            "Vous m'avez donné le vrai chiffre pour 1 d'entre elles.",
            f"Par groupe{NBSP}: {stored.digit.cluster}: 1.",
        ]
    )

    not_a_picture = await _next_reply(bot, FRENCH, "bonjour")
    assert not_a_picture["text"].startswith(f"Je ne sais lire que des images{NBSP}:")

    question = await _next_reply(bot, FRENCH, "/forget")
    assert question["text"].endswith(f"C'est irréversible. Tout effacer{NBSP}?")
    buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Oui, tout effacer", "Non, garder"]
    tg.press_button(FRENCH, FRENCH, question["message_id"], buttons[0]["callback_data"])
    await tg.wait_for_calls("editMessageText", 1)
    assert tg.message(FRENCH, question["message_id"])["text"] == (
        f"C'est fait{NBSP}: j'ai effacé 1 photo et tout ce que j'avais noté sur vous."
    )
    assert (await bot.storage.user_stats(FRENCH)).images == 0


async def test_a_user_whose_language_has_no_catalog_is_answered_in_english(
    bot: RunningBot, digit: np.ndarray
) -> None:
    tg = bot.telegram
    tg.send_photo_from_user(ITALIAN, ITALIAN, photo_of(digit))
    [reply] = await tg.wait_for_replies(ITALIAN, 1)
    assert reply["caption"].startswith("This looks like cluster ")
    assert (await _next_reply(bot, ITALIAN, "/help"))["text"] == texts.help_text("en")
    assert (await _next_reply(bot, ITALIAN, "/stats"))["text"].startswith(
        "You have sent me 1 photo."
    )
    refusal = await _next_reply(bot, ITALIAN, "/retrain")
    assert refusal["text"] == texts.ADMIN_ONLY


async def test_errors_and_admin_refusals_are_french_too(bot: RunningBot) -> None:
    refusal = await _next_reply(bot, FRENCH, "/retrain")
    assert refusal["text"] == "Désolé, seuls les admins du bot peuvent utiliser cette commande."
    usage = await _next_reply(bot, FRENCH, "/cluster douze")
    assert usage["text"].startswith(f"Quel groupe{NBSP}? Envoyez /cluster suivi d'un nombre de 0 à")


async def test_the_command_menu_is_registered_in_english_and_in_french(bot: RunningBot) -> None:
    calls = bot.telegram.calls_of("setMyCommands")
    menus = {
        (call.params.get("language_code"), "scope" in call.params): {
            command["command"]: command["description"] for command in call.params["commands"]
        }
        for call in calls
    }
    assert set(menus) == {(None, False), ("fr", False), (None, True), ("fr", True)}
    assert menus[(None, False)]["forget"] == "erase every photo and record of yours"
    assert (
        menus[("fr", False)]["forget"] == "effacer toutes vos photos et tout ce qui vous concerne"
    )
    assert "retrain" not in menus[("fr", False)]
    assert menus[("fr", True)]["retrain"] == f"admins{NBSP}: réentraîner le modèle maintenant"
    admin_scopes = [call.params["scope"] for call in calls if "scope" in call.params]
    assert admin_scopes == [{"type": "chat", "chat_id": ADMIN_ID}] * 2


async def test_pushes_are_in_push_language_for_notify_run_and_the_admin_who_asked(
    tmp_path: Path, model_path: Path, fake_notify: FakeNotifyRun, broken_mnist_dir: Path
) -> None:
    async with running_bot(
        tmp_path,
        model_path,
        notify_run_endpoint=fake_notify.url,
        mnist_dir=broken_mnist_dir,
        push_language="fr",
    ) as bot:
        version = bot.models.current.version
        bot.telegram.send_text(ADMIN_ID, ADMIN_ID, "/retrain")
        started, ended = await bot.telegram.wait_for_replies(ADMIN_ID, 2)
        posts = await asyncio.to_thread(fake_notify.wait_for_posts, 3)

    boot, start, failed = (post.message for post in posts[:3])
    assert boot == f"▶️ Bot des chiffres démarré · modèle {version}"
    assert start == f"🔄 Réentraînement lancé (admin {ADMIN_ID})"
    assert failed.startswith(f"❌ Réentraînement échoué, modèle actuel gardé{NBSP}: ")
    assert started["text"] == texts.RETRAIN_STARTED  # the admin's own Telegram is English
    assert ended["text"] == failed
    assert fake_notify.messages[-1] == "⏹ Bot des chiffres arrêté"
