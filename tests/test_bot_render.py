"""The reply pictures: sizes, and that the enlarged 28x28 really is the image the bot saw."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.render import GAP, LABEL_HEIGHT, SEEN_SCALE, render_reply, render_samples


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image


def test_reply_shows_the_seen_image_enlarged_beside_the_samples() -> None:
    rng = np.random.default_rng(0)
    seen = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    samples = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)

    image = _open(render_reply(seen, samples))

    side = 28 * SEEN_SCALE
    assert image.width > 2 * side
    panel = np.asarray(image.convert("L"))[
        GAP + LABEL_HEIGHT : GAP + LABEL_HEIGHT + side, GAP : GAP + side
    ]
    assert np.array_equal(panel[::SEEN_SCALE, ::SEEN_SCALE], seen)


def test_reply_without_samples_is_only_the_seen_image() -> None:
    image = _open(render_reply(np.zeros((28, 28), np.uint8), None))
    assert image.width == 28 * SEEN_SCALE + 2 * GAP


def test_samples_grid_has_eight_columns() -> None:
    samples = np.full((32, 28, 28), 255, np.uint8)
    image = _open(render_samples(samples))
    assert image.width > 2 * image.height - 10


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="28x28"):
        render_reply(np.zeros((27, 28), np.uint8), None)
