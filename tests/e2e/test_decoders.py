"""One decoder allow-list: what phones and scanners send is read; every other format Pillow
knows is refused before its decoder runs (EPS would reach Ghostscript)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot import texts
from model.mnist import Mnist
from model.serving.preprocess import READABLE_FORMATS, PreprocessError, open_image, to_mnist
from testkit.bot_harness import running_bot

REFUSED = ["EPS", "PCX", "TGA", "PPM", "ICO", "SGI", "IM", "XBM", "DDS"]


def _paper(mnist: Mnist) -> Image.Image:
    digit = mnist.test_images[0]
    return Image.fromarray(255 - digit).resize((112, 112)).convert("RGB")


def _saved(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "XBM":
        image = image.convert("1")
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [*READABLE_FORMATS, "MPO"])
def test_the_formats_phones_and_scanners_send_are_read(mnist: Mnist, fmt: str) -> None:
    image = to_mnist(_saved(_paper(mnist), fmt))
    assert image.shape == (28, 28)
    assert image.max() > 128


@pytest.mark.parametrize("fmt", REFUSED)
def test_every_other_format_is_refused_before_its_decoder(mnist: Mnist, fmt: str) -> None:
    data = _saved(_paper(mnist), fmt)
    assert Image.open(io.BytesIO(data)).format == fmt  # Pillow itself would open it

    with pytest.raises(PreprocessError, match="not an image I can read"):
        open_image(data)
    with pytest.raises(PreprocessError, match="not an image I can read"):
        to_mnist(data)


def test_pillows_own_bomb_guard_is_the_projects_limit() -> None:
    from model.serving.preprocess import DEFAULT_MAX_PIXELS

    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS


async def test_an_eps_file_sent_as_a_jpeg_gets_the_cannot_read_answer(
    tmp_path: Path, model_path: Path, mnist: Mnist
) -> None:
    eps = _saved(_paper(mnist), "EPS")
    async with running_bot(tmp_path, model_path) as bot:
        tg = bot.telegram
        tg.send_document_from_user(900, 900, eps, file_name="digit.jpg", mime_type="image/jpeg")
        [reply] = await tg.wait_for_replies(900, 1)

    assert reply["text"] == texts.unreadable(
        "en", "That is not an image I can read; send a JPEG or PNG photo of a handwritten digit."
    )
    assert np.all([m.get("photo") is None for m in tg.sent[900]])
