"""The README's admin pictures, made by the real bot from MNIST's test split.

    python -m testkit.admin_harness docs/stats.png docs/model-sheet.png

The /stats picture: a month of simulated traffic, MNIST test digits assigned by the served
model and stored through the real store (today's sent as photos through the Bot API
stand-in), each answered under the reply with its true label by two users in three; then an
admin's /stats. The model sheet: the one a retraining would push for the shipped model.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from bot.admin_pictures import model_sheet
from bot.digit import RecognisedDigit
from bot.storage import IncomingImage
from model.mnist import Mnist, load_mnist
from model.serving.modelfile import load_model
from testkit import ROOT
from testkit.bot_harness import ADMIN_ID, photo_of, running_bot

DAYS = 30
SEED = 0


async def stats_picture_of_a_month(model_path: Path, mnist: Mnist) -> bytes:
    """The picture an admin's /stats sends after a month of MNIST test digits."""
    rng = np.random.default_rng(SEED)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as scratch:
        async with running_bot(Path(scratch), model_path) as bot:
            model = bot.models.current
            message_id = 0
            for days_ago in range(DAYS - 1, 0, -1):
                picks = rng.choice(len(mnist.test_images), int(rng.integers(20, 60)))
                assigned = model.assign(mnist.test_images[picks])
                for n, index in enumerate(picks):
                    user, message_id = 100 + int(rng.integers(0, 12)), message_id + 1
                    saved = await bot.storage.save_image(
                        IncomingImage(
                            chat_id=user,
                            user_id=user,
                            message_id=message_id,
                            received_at=now - timedelta(days=days_ago, minutes=int(index % 600)),
                            original=photo_of(mnist.test_images[index]),
                            mime_type="image/jpeg",
                            digit=RecognisedDigit.assigned(mnist.test_images[index], assigned, n),
                            model_version=model.version,
                        )
                    )
                    if not assigned.is_outlier[n] and rng.random() < 2 / 3:
                        digit = int(mnist.test_labels[index])
                        await bot.storage.set_feedback(saved.image_id, user, digit)
            tg = bot.telegram
            for index in rng.choice(len(mnist.test_images), 25):
                user = 100 + int(rng.integers(0, 12))
                count = len(tg.sent.get(user, []))
                tg.send_photo_from_user(user, user, photo_of(mnist.test_images[index]))
                reply = (await tg.wait_for_replies(user, count + 1))[-1]
                if "reply_markup" in reply and rng.random() < 2 / 3:
                    button = f"{reply['reply_markup']['inline_keyboard'][0][0]['callback_data']}"
                    answer = button.rsplit(":", 1)[0] + f":{mnist.test_labels[index]}"
                    tg.press_button(user, user, reply["message_id"], answer)
            await bot.settle()
            tg.send_text(ADMIN_ID, ADMIN_ID, "/stats")
            replies = await tg.wait_for_replies(ADMIN_ID, 2)
            return tg.uploads[replies[-1]["photo"][0]["file_id"]]


if __name__ == "__main__":
    root = ROOT
    model_file = Path(os.environ.get("MODEL_PATH", root / "data" / "model.npz"))
    mnist_dir = Path(os.environ.get("MNIST_DIR", root.parent / "shared" / "data" / "mnist"))
    digits = load_mnist(mnist_dir)
    stats_png = asyncio.run(stats_picture_of_a_month(model_file, digits))
    Image.open(io.BytesIO(stats_png)).save(sys.argv[1], optimize=True)
    sheet = model_sheet("en", load_model(model_file), mnist_dir)
    Image.open(io.BytesIO(sheet)).save(sys.argv[2], optimize=True)
