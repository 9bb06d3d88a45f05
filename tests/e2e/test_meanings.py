"""End to end: users' answers give a cluster its meaning in replies, /stats and /clusters."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot import render
from bot.context import MEANINGS
from bot.meanings import ClusterMeanings
from model.mnist import Mnist
from model.serving.modelfile import load_model, save_model
from testkit.bot_harness import ADMIN_ID, RunningBot, photo_of

SIXTH = 7006  # a user who has answered nothing


@pytest.fixture(scope="module")
def one(mnist: Mnist) -> np.ndarray:
    """An MNIST test 1: every user's photo in these tests."""
    return mnist.test_images[np.flatnonzero(mnist.test_labels == 1)[0]]


def _meanings(bot: RunningBot) -> ClusterMeanings:
    return bot.application.bot_data[MEANINGS]


async def _send(bot: RunningBot, user: int, photo: bytes, lang: str = "en") -> dict:
    """`user`'s photo and the bot's reply to it."""
    tg = bot.telegram
    tg.languages[user] = lang
    before = len(tg.sent.get(user, []))
    tg.send_photo_from_user(user, user, photo)
    return (await tg.wait_for_replies(user, before + 1))[-1]


async def _answer(bot: RunningBot, users: list[int], per_user: int, photo: bytes, said: int) -> int:
    """Each of `users` sends `photo` `per_user` times and presses `said` under each reply;
    returns the cluster the replies gave. Waits until the answers are counted."""
    tg = bot.telegram
    clusters = set()
    presses = len(tg.calls_of("answerCallbackQuery"))
    for user in users:
        for _ in range(per_user):
            reply = await _send(bot, user, photo)
            button = reply["reply_markup"]["inline_keyboard"][said // 5][said % 5]
            image_id = int(button["callback_data"].split(":")[1])
            clusters.add((await bot.storage.get_image(image_id)).digit.cluster)
            tg.press_button(user, user, reply["message_id"], button["callback_data"])
            presses += 1
            await tg.wait_for_calls("answerCallbackQuery", presses)
    await bot.settle()
    await _meanings(bot).settled()
    [cluster] = clusters
    return cluster


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Cluster {c}: people say these are 1s (100% of 20 answers)."),
        ("fr", "Groupe {c} : selon les gens, ce sont des 1 (100\u00a0% de 20 réponses)."),
    ],
)
async def test_answers_from_five_users_make_the_sixth_users_reply_name_the_digit(
    bot: RunningBot, one: np.ndarray, lang: str, expected: str
) -> None:
    photo = photo_of(one)
    cluster = await _answer(bot, [7001, 7002, 7003, 7004, 7005], 4, photo, said=1)

    reply = await _send(bot, SIXTH, photo, lang)

    assert expected.format(c=cluster) in reply["caption"].replace("\u202f", "\u00a0")


@pytest.mark.parametrize(("lang", "people"), [("en", "people say"), ("fr", "selon les gens")])
async def test_fewer_answers_or_fewer_people_name_nothing(
    bot: RunningBot, one: np.ndarray, lang: str, people: str
) -> None:
    photo = photo_of(one)
    await _answer(bot, [7001, 7002, 7003, 7004], 4, photo, said=1)
    await _answer(bot, [7005], 3, photo, said=1)
    assert people not in (await _send(bot, SIXTH, photo, lang))["caption"]  # 19 answers
    await _answer(bot, [7005], 1, photo, said=1)
    assert people in (await _send(bot, SIXTH, photo, lang))["caption"]  # 20, from 5 people

    tg = bot.telegram
    tg.send_text(7005, 7005, "/forget")
    question = (await tg.wait_for_replies(7005, 5))[-1]
    yes, _ = question["reply_markup"]["inline_keyboard"][0]
    tg.press_button(7005, 7005, question["message_id"], yes["callback_data"])
    await tg.wait_for_calls("editMessageText", 1)
    await bot.settle()
    await _meanings(bot).settled()
    assert people not in (await _send(bot, SIXTH, photo, lang))["caption"]  # 16, from 4

    await _answer(bot, [7001, 7002, 7003, 7004], 1, photo, said=1)

    assert people not in (await _send(bot, SIXTH, photo, lang))["caption"]  # 20, from 4


async def test_answers_that_disagree_name_nothing(bot: RunningBot, one: np.ndarray) -> None:
    photo = photo_of(one)
    await _answer(bot, [7001, 7002, 7003, 7004], 4, photo, said=1)
    await _answer(bot, [7005], 4, photo, said=7)  # 16 of 20 say 1: exactly 80% names it
    assert "1s (80% of 20 answers)" in (await _send(bot, SIXTH, photo))["caption"]

    await _answer(bot, [7006], 1, photo, said=7)  # 16 of 21: 76%

    assert "people say" not in (await _send(bot, 7007, photo))["caption"]


@pytest.mark.parametrize(
    ("lang", "named", "people"),
    [
        ("en", "cluster {c} “ones”", "people say"),
        ("fr", "groupe {c} «\u00a0ones\u00a0»", "selon les gens"),
    ],
)
async def test_an_admins_name_wins_over_the_users(
    bot: RunningBot, one: np.ndarray, lang: str, named: str, people: str
) -> None:
    photo = photo_of(one)
    cluster = await _answer(bot, [7001, 7002, 7003, 7004, 7005], 4, photo, said=1)
    bot.telegram.send_text(ADMIN_ID, ADMIN_ID, f"/name {cluster} ones")
    await bot.telegram.wait_for_replies(ADMIN_ID, 1)

    caption = (await _send(bot, SIXTH, photo, lang))["caption"]

    assert named.format(c=cluster) in caption
    assert people not in caption


async def test_after_a_retraining_the_answers_are_counted_with_the_new_models_clusters(
    bot: RunningBot,
    one: np.ndarray,
    tmp_path: Path,
    model_as_version: Callable[[Path, str], Path],
) -> None:
    photo = photo_of(one)
    cluster = await _answer(bot, [7001, 7002, 7003, 7004, 7005], 4, photo, said=1)
    # The "retrained" model is the same network with its clusters renumbered: the old answers
    # must follow the digits to their new cluster, not stay with the old number.
    old = bot.models.current
    order = np.roll(np.arange(old.k), 1)
    path = tmp_path / "retrained.npz"
    retrained = old.permuted(order, dict(old.metadata, version="20261207T120000Z-retrained"))
    save_model(retrained, path)
    bot.models.swap(load_model(path), path)
    moved = int(np.flatnonzero(order == cluster)[0])
    assert moved != cluster
    assert _meanings(bot).meanings(retrained.version) == {}  # never the old model's figures

    reply = await _send(bot, SIXTH, photo)
    await _meanings(bot).settled()
    again = await _send(bot, SIXTH, photo)

    assert "people say" not in reply["caption"]  # not counted for this model yet
    assert f"Cluster {moved}: people say these are 1s (100% of 20 answers)." in again["caption"]


@pytest.mark.parametrize(
    ("lang", "line"),
    [
        ("en", "✓ cluster {c}: 1s, 100% of 20 answers from 5 people"),
        ("fr", "✓ groupe {c} : des 1, 100\u00a0% de 20 réponses de 5 personnes"),
    ],
)
async def test_admin_stats_show_each_clusters_share(
    bot: RunningBot, one: np.ndarray, lang: str, line: str
) -> None:
    cluster = await _answer(bot, [7001, 7002, 7003, 7004, 7005], 4, photo_of(one), said=1)
    tg = bot.telegram
    tg.languages[ADMIN_ID] = lang

    tg.send_text(ADMIN_ID, ADMIN_ID, "/stats")
    [text, _] = await tg.wait_for_replies(ADMIN_ID, 2)

    assert line.format(c=cluster) in text["text"].replace("\u202f", "\u00a0")


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "/cluster N shows more members"), ("fr", "/cluster N montre plus de membres")],
)
async def test_clusters_sends_one_picture_of_every_cluster_legible_on_a_phone(
    bot: RunningBot, lang: str, words: str
) -> None:
    tg = bot.telegram
    tg.languages[SIXTH] = lang

    tg.send_text(SIXTH, SIXTH, "/clusters")
    [reply] = await tg.wait_for_replies(SIXTH, 1)

    picture = Image.open(io.BytesIO(tg.uploads[reply["photo"][0]["file_id"]]))
    assert picture.size[0] == 1080
    assert picture.size[1] >= bot.models.current.k * 100  # a row per cluster, tall enough to read
    assert bot.models.current.version in reply["caption"]
    assert words in reply["caption"]


async def test_clusters_picture_says_what_users_say_in_that_clusters_row(
    bot: RunningBot, one: np.ndarray
) -> None:
    tg = bot.telegram

    async def clusters_picture() -> np.ndarray:
        tg.send_text(SIXTH, SIXTH, "/clusters")
        reply = (await tg.wait_for_replies(SIXTH, len(tg.sent.get(SIXTH, [])) + 1))[-1]
        data = tg.uploads[reply["photo"][0]["file_id"]]
        return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.int16)

    before = await clusters_picture()
    cluster = await _answer(bot, [7001, 7002, 7003, 7004, 7005], 4, photo_of(one), said=1)
    after = await clusters_picture()

    rows, columns = np.nonzero(np.abs(after - before) > 60)
    assert rows.size  # the words were drawn
    assert {int(row - render.SHEET_TOP) // render.SHEET_ROW for row in rows} == {cluster}
    assert columns.max() < render.GAP + render.LABEL_COLUMN
