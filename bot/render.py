"""The pictures the bot sends: what it saw beside its cluster's samples, or the samples alone."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from model.montage import grid_image

SEEN_SCALE = 16  # the 28x28 at 448x448, as tall as the 4x4 grid of samples at 4x
SAMPLE_SCALE = 4
GAP = 12
LABEL_HEIGHT = 22
BACKGROUND = 40  # the same grey as model.montage's grids
GRID_COLUMNS = 4
MAX_SAMPLES = 16


def render_reply(seen: NDArray[np.uint8], samples: NDArray[np.uint8] | None) -> bytes:
    """PNG of the enlarged 28x28 the bot saw, beside a grid of the cluster's samples if given."""
    panels = [("what I saw", _enlarge(seen, SEEN_SCALE))]
    if samples is not None and len(samples):
        panels.append(("its cluster", _grid(samples[:MAX_SAMPLES])))
    return _png(_side_by_side(panels))


def render_samples(samples: NDArray[np.uint8], columns: int = 8) -> bytes:
    """PNG grid of a cluster's representative samples, for /cluster."""
    return _png(_grid(samples[: columns * 4], columns=columns))


def _enlarge(image: NDArray[np.uint8], scale: int) -> Image.Image:
    if image.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image.shape}")
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L").resize(
        (28 * scale, 28 * scale), Image.Resampling.NEAREST
    )


def _grid(samples: NDArray[np.uint8], columns: int = GRID_COLUMNS) -> Image.Image:
    return grid_image(samples, columns=columns, scale=SAMPLE_SCALE, gap=1)


def _side_by_side(panels: list[tuple[str, Image.Image]]) -> Image.Image:
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


def _png(image: Image.Image) -> bytes:
    """Fast zlib level: `optimize=True` took 160 ms a reply (most of a photo's CPU) for 4 KB."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
