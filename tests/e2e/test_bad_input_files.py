"""Bad and unusual files, end to end: each gets a true reply, and only real pictures are stored.

One bot serves the whole module; each case writes from its own user and chat, so what the bot
said and stored for one case cannot be confused with another's.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from bot import texts
from model.serving.preprocess import to_mnist
from testkit import bad_inputs
from testkit.bot_harness import RunningBot, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_MB = 1
_users = itertools.count(20_001)


@dataclass(frozen=True)
class FileCase:
    """One kind of file: how to make it, how it is sent, and what the bot must do with it."""

    kind: str
    build: Callable[[np.ndarray], bytes]
    mime_type: str | None  # None: sent as a compressed photo
    outcome: str  # "cluster", "unreadable", "not a picture" or "too big"
    reason: str = ""  # words the unreadable reply must contain
    same_digit: bool = True  # the stored 28x28 must match a plain photo of the digit


def _const(data: bytes) -> Callable[[np.ndarray], bytes]:
    return lambda _digit: data


CASES = [
    FileCase("truncated JPEG", bad_inputs.truncated_jpeg, "image/jpeg", "unreadable", "damaged"),
    FileCase("0-byte file", _const(b""), "image/jpeg", "unreadable", "not an image"),
    FileCase("1x1 image", _const(bad_inputs.one_pixel_png()), "image/png", "unreadable", "1x1"),
    FileCase(
        "PNG header claiming 50,000x50,000",
        _const(bad_inputs.png_claiming(50_000, 50_000)),
        "image/png",
        "unreadable",
        "too many pixels",
    ),
    FileCase(
        "JPEG header claiming 60,000x60,000",
        _const(bad_inputs.jpeg_claiming(60_000, 60_000)),
        None,
        "unreadable",
        "too many pixels",
    ),
    FileCase(
        "PNG with a 64 MB text-chunk bomb",
        bad_inputs.png_with_text_bomb,
        "image/png",
        "unreadable",
        "damaged",
    ),
    FileCase("animated GIF", bad_inputs.animated_gif, "image/gif", "cluster"),
    FileCase("CMYK JPEG", bad_inputs.cmyk_jpeg, "image/jpeg", "cluster"),
    FileCase("16-bit PNG", bad_inputs.png_16_bit, "image/png", "cluster"),
    FileCase("transparent PNG", bad_inputs.transparent_png, "image/png", "cluster"),
    FileCase(
        "palette PNG with a transparent colour",
        bad_inputs.palette_png_with_transparency,
        "image/png",
        "cluster",
        same_digit=False,
    ),
    FileCase("WebP", bad_inputs.webp, "image/webp", "cluster"),
    FileCase("BMP", bad_inputs.bmp, "image/bmp", "cluster"),
    FileCase("multi-page TIFF", bad_inputs.multipage_tiff, "image/tiff", "cluster"),
    FileCase("JPEG on its side with EXIF rotation", bad_inputs.rotated_by_exif, None, "cluster"),
    FileCase("JPEG labelled as PNG", bad_inputs.jpeg, "image/png", "cluster"),
    FileCase(
        "10,000x16 strip of noise", _const(bad_inputs.long_strip()), None, "unreadable", "digit"
    ),
    FileCase("SVG", _const(bad_inputs.svg()), "image/svg+xml", "unreadable", "JPEG or PNG"),
    FileCase("HEIC", _const(bad_inputs.heic()), "image/heic", "unreadable", "JPEG or PNG"),
    FileCase(
        "text file named .jpg",
        _const(bad_inputs.text_as_jpeg()),
        "image/jpeg",
        "unreadable",
        "JPEG or PNG",
    ),
    FileCase("zip archive named .png", _const(bad_inputs.zip_archive()), "image/png", "unreadable"),
    FileCase("PDF", _const(bad_inputs.pdf()), "application/pdf", "not a picture"),
    FileCase("file without a type", bad_inputs.jpeg, "application/octet-stream", "not a picture"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(
    tmp_path_factory: pytest.TempPathFactory, model_path: Path
) -> AsyncIterator[RunningBot]:
    tmp_path = tmp_path_factory.mktemp("bad-files")
    async with running_bot(tmp_path, model_path, max_image_mb=MAX_MB) as running:
        yield running


def _send(bot: RunningBot, user: int, case: FileCase, data: bytes) -> int:
    if case.mime_type is None:
        return bot.telegram.send_photo_from_user(user, user, data)
    name = "upload." + case.mime_type.rsplit("/", 1)[-1].split("+")[0]
    return bot.telegram.send_document_from_user(
        user, user, data, file_name=name, mime_type=case.mime_type
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
async def test_each_kind_of_file_gets_a_true_reply_and_only_pictures_are_stored(
    bot: RunningBot, digit: np.ndarray, case: FileCase
) -> None:
    user = next(_users)
    data = case.build(digit)
    message_id = _send(bot, user, case, data)

    [reply] = await bot.telegram.wait_for_replies(user, 1)
    await bot.settle()
    stored = await bot.storage.find_image(user, message_id)

    if case.outcome != "cluster":
        expected = {
            "not a picture": texts.NOT_A_PICTURE_FILE,
            "too big": texts.too_big("en", MAX_MB),
        }.get(case.outcome, texts.unreadable("en", ""))
        assert reply["text"].startswith(expected)
        assert case.reason in reply["text"]
        assert stored is None
        assert (await bot.storage.user_stats(user)).images == 0
        return
    assert "photo" in reply
    assert reply["caption"].startswith(("This looks like cluster", texts.NOT_A_DIGIT))
    assert stored is not None
    assert stored.user_id == user
    assert stored.original == data
    assert stored.mime_type == (case.mime_type or "image/jpeg")
    assert stored.answered_at is not None
    assert stored.digit.mnist.max() == 255
    if case.same_digit:
        reference = to_mnist(bad_inputs.jpeg(digit)).astype(int)
        assert np.abs(stored.digit.mnist.astype(int) - reference).mean() < 8


async def test_a_document_claiming_more_than_the_limit_is_refused_before_download(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    downloads = len(bot.telegram.calls_of("getFile"))
    message_id = bot.telegram.send_document_from_user(
        user,
        user,
        bad_inputs.jpeg(digit),
        file_name="scan.jpg",
        mime_type="image/jpeg",
        file_size=MAX_MB * 1024 * 1024 + 1,
    )

    [reply] = await bot.telegram.wait_for_replies(user, 1)

    assert reply["text"] == texts.too_big("en", MAX_MB)
    await bot.settle()
    assert len(bot.telegram.calls_of("getFile")) == downloads
    assert await bot.storage.find_image(user, message_id) is None


async def test_a_file_bigger_than_it_claims_is_refused_after_download(
    bot: RunningBot, digit: np.ndarray
) -> None:
    user = next(_users)
    big = bad_inputs.bmp(digit) * 20
    message_id = bot.telegram.send_document_from_user(
        user, user, big, file_name="scan.bmp", mime_type="image/bmp", file_size=1000
    )

    [reply] = await bot.telegram.wait_for_replies(user, 1)

    assert len(big) > MAX_MB * 1024 * 1024
    assert reply["text"] == texts.too_big("en", MAX_MB)
    assert await bot.storage.find_image(user, message_id) is None
