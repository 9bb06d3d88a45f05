"""MNIST digits drawn into photo-like pictures, and the measures tests compare them with."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from model import MNIST_SIDE
from model.serving.preprocess import MNIST_BOX

Scene = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (page, ink alpha) -> page, before the ink


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two images' pixels."""
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


def shifted_similarity(a: np.ndarray, b: np.ndarray, pixels: int) -> float:
    """Best similarity over shifts of up to `pixels`: a different stroke width moves the
    centre of mass, and with it MNIST's centring."""
    shifts = range(-pixels, pixels + 1)
    return max(similarity(np.roll(a, (dy, dx), axis=(0, 1)), b) for dy in shifts for dx in shifts)


def stroke_width(image: np.ndarray) -> float:
    """Twice the ink area over its perimeter, relative to the 20 px box (as in preprocess)."""
    binary = np.pad(image >= 128, 1)
    perimeter = np.count_nonzero(binary[1:] != binary[:-1])
    perimeter += np.count_nonzero(binary[:, 1:] != binary[:, :-1])
    return 2 * np.count_nonzero(binary) / perimeter / MNIST_BOX


def render(
    digit: np.ndarray,
    *,
    size: tuple[int, int] = (640, 480),
    height_frac: float = 0.5,
    centre: tuple[float, float] = (0.5, 0.5),
    paper: float = 235.0,
    ink: tuple[float, float, float] = (30.0, 30.0, 40.0),
    scene: Scene | None = None,
    thin: bool = False,
) -> np.ndarray:
    """An RGB photo-like float array (H, W, 3): the digit's 20 px box is `height_frac` of the
    frame's height, centred at `centre` (x, y as fractions); `scene` edits the page first."""
    width, height = size
    side = max(8, round(height_frac * height * MNIST_SIDE / MNIST_BOX))
    coverage = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))
    coverage = coverage.astype(np.float32) / 255.0
    if thin:
        core = ndimage.binary_erosion(coverage > 0.5, iterations=max(1, side // 30))
        coverage = np.clip(ndimage.gaussian_filter(core.astype(np.float32), 0.6) * 1.8, 0, 1)
    alpha = np.zeros((height, width), np.float32)
    top = round(centre[1] * height - side / 2)
    left = round(centre[0] * width - side / 2)
    ys = slice(max(0, top), min(height, top + side))
    xs = slice(max(0, left), min(width, left + side))
    alpha[ys, xs] = coverage[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
    page = np.full((height, width, 3), paper, np.float32)
    if scene is not None:
        page = scene(page, alpha)
    a = alpha[..., None]
    return page * (1 - a) + np.array(ink, np.float32) * a


def encode(pixels: np.ndarray, fmt: str = "JPEG", mode: str = "RGB", **params) -> bytes:
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode != image.mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
