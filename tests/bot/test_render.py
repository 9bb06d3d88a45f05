"""The reply pictures: sizes, and that the enlarged 28x28 really is the image the bot saw."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.render import GAP, LABEL_HEIGHT, SEEN_SCALE, _enlarge, render_reply, render_samples


def _open(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"  # Telegram turns every photo into one anyway
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
    centres = panel[SEEN_SCALE // 2 :: SEEN_SCALE, SEEN_SCALE // 2 :: SEEN_SCALE]
    assert np.abs(centres.astype(int) - seen).max() <= 2


def test_reply_without_samples_is_only_the_seen_image() -> None:
    image = _open(render_reply(np.zeros((28, 28), np.uint8), None))
    assert image.width == 28 * SEEN_SCALE + 2 * GAP


def _bright_runs(line: np.ndarray) -> int:
    """How many separate stretches of a row or column of pixels are bright."""
    bright = np.concatenate([[False], line > 128, [False]])
    return int(np.count_nonzero(bright[1:] & ~bright[:-1]))


def test_samples_grid_has_eight_columns() -> None:
    """40 samples, each a white square inside a dark margin: 8 tiles across, 4 down."""
    samples = np.zeros((40, 28, 28), np.uint8)
    samples[:, 6:22, 6:22] = 255
    image = np.asarray(_open(render_samples(samples)).convert("L"))

    across = [_bright_runs(image[y]) for y in range(image.shape[0])]
    down = [_bright_runs(image[:, x]) for x in range(image.shape[1])]

    assert max(across) == 8
    assert max(down) == 4


def test_replies_of_one_cluster_differ_only_in_what_the_bot_saw() -> None:
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    first, second = (rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(2))

    a = np.asarray(_open(render_reply(first, samples)), dtype=int)
    b = np.asarray(_open(render_reply(second, samples)), dtype=int)

    side = 28 * SEEN_SCALE
    assert np.abs(a[:, 2 * GAP + side :] - b[:, 2 * GAP + side :]).max() <= 2
    assert (
        np.abs(
            a[GAP + LABEL_HEIGHT :, GAP : GAP + side] - b[GAP + LABEL_HEIGHT :, GAP : GAP + side]
        ).mean()
        > 50
    )


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="28x28"):
        render_reply(np.zeros((27, 28), np.uint8), None)


@pytest.mark.parametrize("scale", [3, 4, 16])
def test_enlarging_is_pillows_nearest_resize(scale: int) -> None:
    """The reply, /cluster and /clusters show each pixel as a square, exactly as Pillow's
    nearest-neighbour resize by a whole factor does."""
    digit = np.random.default_rng(scale).integers(0, 256, (28, 28), dtype=np.uint8)
    pillow = Image.fromarray(digit, mode="L").resize(
        (28 * scale, 28 * scale), Image.Resampling.NEAREST
    )
    assert np.array_equal(np.asarray(_enlarge(digit, scale)), np.asarray(pillow))
