"""The pictures the bot sends: what it saw beside its cluster's samples, or the samples alone."""

from __future__ import annotations

import functools
import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from model.montage import grid_image

SEEN_SCALE = 16  # the 28x28 at 448x448, as tall as the 4x4 grid of samples at 4x
SAMPLE_SCALE = 4
# Multiples of 8, so JPEG's 8x8 blocks fall inside the enlarged pixels of what the bot saw:
# that panel comes through encoding essentially unchanged.
GAP = 16
LABEL_HEIGHT = 24
BACKGROUND = 40  # the same grey as model.montage's grids
GRID_COLUMNS = 4
MAX_SAMPLES = 16
# Telegram re-encodes every photo it receives as JPEG, so a PNG buys nothing on the user's
# screen; at this quality the enlarged pixels stay crisp and encoding is 4x faster (about
# 35 KB against a 10 KB PNG).
JPEG_QUALITY = 90
BACKGROUNDS_KEPT = 64  # a few models' worth of clusters


def render_reply(seen: NDArray[np.uint8], samples: NDArray[np.uint8] | None) -> bytes:
    """JPEG of the enlarged 28x28 the bot saw, beside a grid of the cluster's samples if given."""
    if seen.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {seen.shape}")
    shown = (
        np.ascontiguousarray(samples[:MAX_SAMPLES], dtype=np.uint8)
        if samples is not None and len(samples)
        else np.zeros((0, 28, 28), np.uint8)
    )
    # Everything but the photo's own panel is the same for every photo of a cluster.
    canvas = _background(shown.tobytes()).copy()
    canvas.paste(_enlarge(seen, SEEN_SCALE), (GAP, GAP + LABEL_HEIGHT))
    return _jpeg(canvas)


def render_samples(samples: NDArray[np.uint8], columns: int = 8) -> bytes:
    """JPEG grid of a cluster's representative samples, for /cluster."""
    return _jpeg(grid_image(samples[: columns * 4], columns=columns, scale=SAMPLE_SCALE, gap=1))


@functools.lru_cache(maxsize=BACKGROUNDS_KEPT)
def _background(samples: bytes) -> Image.Image:
    """The reply with labels and the samples' grid drawn and the seen panel left empty."""
    stack = np.frombuffer(samples, np.uint8).reshape(-1, 28, 28)
    panels = [("what I saw", Image.new("L", (28 * SEEN_SCALE, 28 * SEEN_SCALE), BACKGROUND))]
    if len(stack):
        grid = grid_image(stack, columns=GRID_COLUMNS, scale=SAMPLE_SCALE, gap=1)
        panels.append(("its cluster", grid))
    height = max(panel.height for _, panel in panels) + LABEL_HEIGHT + 2 * GAP
    width = sum(panel.width for _, panel in panels) + GAP * (len(panels) + 1)
    canvas = Image.new("L", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    left = GAP
    for label, panel in panels:
        draw.text((left, GAP // 2), label, fill=220, font=font)
        canvas.paste(panel, (left, GAP + LABEL_HEIGHT))
        left += panel.width + GAP
    return canvas


def _enlarge(image: NDArray[np.uint8], scale: int) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").resize(
        (28 * scale, 28 * scale), Image.Resampling.NEAREST
    )


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
