"""Run the real bot (build_application, post_init, polling) against FakeTelegram in a test."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bot.app import BotApplication, build_application
from bot.context import MEANINGS, MODELS, STORAGE
from bot.model_provider import ModelProvider
from bot.settings import Settings, load_settings
from bot.storage import Storage
from bot.storage.engine import create_db_engine, upgrade
from model.mnist import load_mnist
from testkit import ROOT
from testkit.fake_telegram import FakeTelegram

TOKEN = "123456789:AAHtestTOKENthatISlongENOUGH_0123456"
ADMIN_ID = 9001


@dataclass
class RunningBot:
    """The fake Telegram server and the bot polling it, with the bot's own services."""

    telegram: FakeTelegram
    application: BotApplication
    settings: Settings

    @property
    def storage(self) -> Storage:
        return self.application.bot_data[STORAGE]

    @property
    def models(self) -> ModelProvider:
        return self.application.bot_data[MODELS]

    async def settle(self) -> None:
        """Wait until every update the bot has fetched is fully handled (work after replies too)."""
        await self.application.update_queue.join()


def bot_settings(tmp_path: Path, model_path: Path, base_url: str, **overrides: Any) -> Settings:
    """Settings for a test bot: its own database file and models dir, no .env, no notify.run."""
    values: dict[str, Any] = {
        "_env_file": None,
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": base_url,
        "model_path": model_path,
        "models_dir": tmp_path / "models",
        "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "admin_ids": str(ADMIN_ID),
        "notify_telegram_admins": False,
        "rate_limit": "100/minute",
    }
    return load_settings(**(values | overrides))


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, model_path: Path, **overrides: Any
) -> AsyncIterator[RunningBot]:
    """Start FakeTelegram and the bot as `run_polling` would (initialize, post_init, start).

    Its own SQLite file starts as a copy of one migrated once per session, as a deployed
    bot's database is on every start but the first (tests that pass `database_url` see a
    first start).
    """
    database = tmp_path / "bot.sqlite3"
    if "database_url" not in overrides and not database.exists():
        shutil.copy(_migrated_database(), database)
    async with FakeTelegram(TOKEN) as telegram:
        settings = bot_settings(tmp_path, model_path, telegram.base_url, **overrides)
        application = build_application(settings)
        async with application:
            assert application.post_init is not None
            await application.post_init(application)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield RunningBot(telegram, application, settings)
            finally:
                await application.updater.stop()
                await application.stop()
                assert application.post_shutdown is not None
                await application.post_shutdown(application)


@functools.cache
def _migrated_database() -> Path:
    """An empty SQLite database at the newest schema, made once per process."""
    directory = tempfile.mkdtemp(prefix="migrated-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = Path(directory) / "bot.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}", pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


def photo_of(digit: np.ndarray, *, size: int = 280, fmt: str = "JPEG") -> bytes:
    """An MNIST digit as a phone would see it on paper: dark ink on white, enlarged, compressed."""
    paper = Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    paper.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def page_of(
    rows: list[np.ndarray], *, side: int = 120, gap: int = 48, margin: int = 60
) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """MNIST digits written in rows on a white page, with gaps, as a phone photographs a number.

    `rows` holds one (n, 28, 28) stack per line. Returns the JPEG and, in reading order, the
    square each digit was pasted in (x0, y0, x1, y1).
    """
    width = 2 * margin + max(len(row) for row in rows) * (side + gap) - gap
    height = 2 * margin + len(rows) * (side + gap) - gap
    paper = Image.new("L", (width, height), 255)
    squares = []
    for r, row in enumerate(rows):
        for c, digit in enumerate(row):
            x, y = margin + c * (side + gap), margin + r * (side + gap)
            ink = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BILINEAR)
            paper.paste(ink, (x, y))
            squares.append((x, y, x + side, y + side))
    buffer = io.BytesIO()
    paper.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), squares


def png_with_transparency(digit: np.ndarray, *, size: int = 280) -> bytes:
    """The digit as black ink on a transparent background, as drawing apps export it."""
    ink = Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    image.putalpha(ink)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def _real_reply(model_path: Path, photo: bytes) -> tuple[bytes, str]:
    """Send a photo to the real bot; returns the picture and caption it replies with."""
    with tempfile.TemporaryDirectory() as scratch:
        async with running_bot(Path(scratch), model_path) as bot:
            bot.telegram.send_photo_from_user(1, 1, photo)
            [reply] = await bot.telegram.wait_for_replies(1, 1)
    return bot.telegram.uploads[reply["photo"][0]["file_id"]], str(reply["caption"])


async def _after_answers(
    model_path: Path, digits: np.ndarray, labels: np.ndarray
) -> tuple[str, bytes, str]:
    """Five users each send 5 photos of every digit and answer truly; then a sixth user's
    reply caption, and the /clusters picture with its caption."""
    with tempfile.TemporaryDirectory() as scratch:
        async with running_bot(Path(scratch), model_path) as bot:
            tg = bot.telegram
            for user in range(1, 6):
                sample = [
                    int(i) for d in range(10) for i in np.flatnonzero(labels == d)[user::5][:5]
                ]
                for n, index in enumerate(sample, start=1):
                    tg.send_photo_from_user(user, user, photo_of(digits[index]))
                    reply = (await tg.wait_for_replies(user, n))[-1]
                    if "reply_markup" not in reply:  # far from every cluster: no buttons
                        continue
                    said = int(labels[index])
                    button = reply["reply_markup"]["inline_keyboard"][said // 5][said % 5]
                    tg.press_button(user, user, reply["message_id"], button["callback_data"])
            await bot.settle()
            await bot.application.bot_data[MEANINGS].settled()
            photo = tg.send_photo_from_user(6, 6, photo_of(digits[0]))
            tg.send_text(6, 6, "/clusters")
            replies = await tg.wait_for_replies(6, 2)
            reply, clusters = sorted(replies, key=lambda r: r["reply_to_message_id"] != photo)
    picture = tg.uploads[clusters["photo"][0]["file_id"]]
    return str(reply["caption"]), picture, str(clusters["caption"])


if __name__ == "__main__":
    # python -m testkit.bot_harness docs/reply.png — the README's picture of a real reply;
    # with --several, of a reply to a photo of the first ten MNIST test digits in two rows;
    # with --clusters, the /clusters picture once five users have answered for every digit.
    root = ROOT
    mnist = load_mnist(Path(os.environ.get("MNIST_DIR", root.parent / "shared" / "data" / "mnist")))
    digits = mnist.test_images
    model_file = Path(os.environ.get("MODEL_PATH", root / "data" / "model.npz"))
    if "--clusters" in sys.argv:
        caption, picture, clusters_caption = asyncio.run(
            _after_answers(model_file, digits, mnist.test_labels)
        )
        print(caption, clusters_caption, sep="\n\n")
    else:
        sent = (
            page_of([digits[:5], digits[5:10]])[0]
            if "--several" in sys.argv
            else photo_of(digits[0])
        )
        picture, caption = asyncio.run(_real_reply(model_file, sent))
        print(caption)
    Image.open(io.BytesIO(picture)).save(sys.argv[1], optimize=True)
