"""Stage 1, decode: bytes (or an opened image) to a small grayscale array, safely.

Refuses what is not an image, too small or too large (decompression bombs) before decoding it,
applies EXIF rotation, decodes a JPEG by DCT scaling straight to the working size, and puts a
transparent background on paper.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps

from model.serving.refusals import (
    BOMB,
    DAMAGED,
    NOT_AN_IMAGE,
    TOO_FEW_PIXELS,
    TOO_MANY_PIXELS,
    UNREADABLE_FORMAT,
)

DEFAULT_MAX_PIXELS = 40_000_000
"""Images with more pixels are refused before decoding (decompression bombs)."""

READABLE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""The only decoders a received file reaches: what phones, scanners and editors send (Pillow's
JPEG decoder also opens a phone's multi-picture JPEG, MPO). Every other parser Pillow has,
Ghostscript's EPS among them, is never run on a stranger's bytes."""

# Pillow's own bomb guard at the project's limit, wherever an image is opened.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS

MIN_SIDE = 16
"""The least longer side: a digit cut to its box (a 1 is a few pixels wide) must pass."""

WORK_SIZE = 320
"""The longer side, in pixels, of the grayscale copy every stage reads."""

_TURNED = (5, 6, 7, 8)
"""EXIF orientations that swap width and height."""


class PreprocessError(ValueError):
    """The image cannot be turned into a digit; the message tells the user what to do."""


class Decoded(NamedTuple):
    """A picture as the stages read it."""

    gray: np.ndarray
    """Luminance 0..255, float32, longer side at most the working size."""
    scale: float
    """How much the whole picture was shrunk (its longer side over `gray`'s)."""
    size: tuple[int, int]
    """The whole picture's width and height, upright (after EXIF rotation)."""


def decode(
    data: bytes | Image.Image,
    max_pixels: int,
    region: tuple[float, float, float, float] | None = None,
    work_size: int = WORK_SIZE,
) -> Decoded:
    """Open, check size, rotate by EXIF, crop to `region` (fractions of the upright image) and
    shrink to a float32 grayscale array (0..255) whose longer side is at most `work_size`."""
    if isinstance(data, Image.Image):
        image, owned = data, False
    else:
        image, owned = open_image(data), True
    width, height = image.size
    if width * height > max_pixels:
        raise PreprocessError(
            TOO_MANY_PIXELS.format(width=width, height=height, limit=f"{max_pixels:,}")
        )
    if max(width, height) < MIN_SIDE:
        raise PreprocessError(TOO_FEW_PIXELS.format(width=width, height=height, side=MIN_SIDE))
    try:
        turned = image.getexif().get(0x0112) in _TURNED
        if owned:
            if image.format == "JPEG":
                image.draft("L", _draft_size(width, height, region, work_size))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        else:
            image = ImageOps.exif_transpose(image)
        if region is not None:
            w, h = image.size
            image = image.crop(
                (
                    int(region[0] * w),
                    int(region[1] * h),
                    int(np.ceil(region[2] * w)),
                    int(np.ceil(region[3] * h)),
                )
            )
        gray = _grayscale(image, work_size)
    except PreprocessError:
        raise
    except Exception as exc:
        raise PreprocessError(DAMAGED) from exc
    upright = (height, width) if turned else (width, height)
    return Decoded(gray, max(width, height) / max(gray.shape), upright)


def _draft_size(
    width: int, height: int, region: tuple[float, float, float, float] | None, work_size: int
) -> tuple[int, int]:
    """The least size to decode a JPEG at (DCT scaling skips most of the decoding work): the
    longer side `work_size`; for a `region`, both sides large enough that the crop's longer
    side reaches `work_size` whichever way EXIF then turns the image."""
    if region is None:
        scale = work_size / max(width, height)
        return math.ceil(width * scale), math.ceil(height * scale)
    fraction = max(region[2] - region[0], region[3] - region[1])
    return (round(work_size / fraction),) * 2


def open_image(data: bytes) -> Image.Image:
    """Open `data` lazily with READABLE_FORMATS' decoders only; Pillow's own bomb check and
    any other format become PreprocessError."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise PreprocessError(NOT_AN_IMAGE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=READABLE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreprocessError(BOMB) from exc
    except Exception as exc:
        raise PreprocessError(UNREADABLE_FORMAT) from exc


def _grayscale(image: Image.Image, work_size: int) -> np.ndarray:
    """Luminance as float32 0..255 at working size; a transparent background becomes paper."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0.0, neginf=0.0)
        values -= min(0.0, float(values.min())) if values.size else 0.0
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 / 65535.0 if mode.startswith("I;16") or top > 255 else 1.0
        if top * scale > 255:
            scale = 255.0 / top
        values = np.clip(values * scale, 0, 255).astype(np.float32)
        return _shrink(Image.fromarray(values), work_size)
    if (mode == "P" and "transparency" in image.info) or mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        return _composite(image, work_size)
    if image.mode != "L":
        image = image.convert("L")
    return _shrink(image, work_size)


def _composite(image: Image.Image, work_size: int) -> np.ndarray:
    """Put transparent pixels on paper that contrasts with the opaque (ink) pixels."""
    image = _shrink_image(image, work_size)
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    lum = np.asarray(image.convert("L"), dtype=np.float32)
    if alpha.min() >= 1.0:
        return lum
    opaque_lum = float((lum * alpha).sum() / max(alpha.sum(), 1e-6))
    paper = 255.0 if opaque_lum < 128 else 0.0
    return lum * alpha + paper * (1.0 - alpha)


def _shrink_image(image: Image.Image, work_size: int) -> Image.Image:
    """Longer side at most `work_size`: integer box reduction first (fast), then resampling."""
    factor = max(image.size) // work_size
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) <= work_size:
        return image
    scale = work_size / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _shrink(image: Image.Image, work_size: int) -> np.ndarray:
    return np.asarray(_shrink_image(image, work_size), dtype=np.float32)
