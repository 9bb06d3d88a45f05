"""Photo → MNIST: turn any user image of a handwritten digit into a 28x28 MNIST-style array.

Training (user images) and serving both go through `to_mnist`, so a photo reaches the model
looking like the MNIST images it learned from: white ink on black, strokes of MNIST's width,
the digit's bounding box scaled to 20 px on its longer side and centred by centre of mass in
28x28. Deskewing is the model's job (`model/features.py`), not done here.

The pipeline works on a small grayscale copy (longer side ≤ `WORK_SIZE`): normalise the
background (divide by a coarse, robust estimate of the paper), decide polarity from that
background, threshold against the paper's own noise, drop ruled lines, frames, paper edges and
specks, keep the digit and its nearby pieces, then normalise contrast and stroke width.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageOps

from model.imageops import bounding_box, disk_dilation, disk_erosion, grow, quantile
from model.page import Digit, find_digit, ink_map

DEFAULT_MAX_PIXELS = 40_000_000
"""Images with more pixels are refused before decoding (decompression bombs)."""

MIN_SIDE = 16
"""The least longer side: a digit cut to its box (a 1 is a few pixels wide) must pass."""
WORK_SIZE = 320
MNIST_BOX = 20
MNIST_SIZE = 28
STROKE_REL = 0.092
"""MNIST's median stroke width over its bounding box's longer side (measured at level 128)."""
STROKE_BAND = (0.05, 0.165)


class PreprocessError(ValueError):
    """The image cannot be turned into a digit; the message tells the user what to do."""


_NO_INK = (
    "I could not find a digit in this picture; write one digit in dark ink on plain paper "
    "and photograph it up close, in good light."
)


def to_mnist(data: bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Convert a photo, scan or screenshot of one handwritten digit to MNIST format.

    Parameters
    ----------
    data : bytes or PIL.Image.Image
        Encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF) or an already opened image.
    max_pixels : int
        Refuse images with more pixels than this, before decoding them.

    Returns
    -------
    ndarray of shape (28, 28), uint8
        White ink on black in MNIST's framing.

    Raises
    ------
    PreprocessError
        Not an image, too small, too large, or no ink found.
    """
    gray, scale = _decode(data, max_pixels)
    ink = ink_map(gray)
    digit = find_digit(ink)
    if digit is None:
        raise PreprocessError(_NO_INK)
    region = _zoom_region(digit, ink.shape, scale)
    if region is not None:
        zoomed, _ = _decode(data, max_pixels, region)
        zoomed_digit = find_digit(ink_map(zoomed))
        if zoomed_digit is not None:
            digit = zoomed_digit
    return _frame(digit.ink, digit.mask, digit.floor)


def _zoom_region(
    digit: Digit, shape: tuple[int, int], scale: float
) -> tuple[float, float, float, float] | None:
    """Where to look again at full resolution when the digit is small in a large photo.

    Returns (left, top, right, bottom) as fractions of the image, three digit-sizes wide.
    """
    rows, cols = digit.box
    side = max(rows.stop - rows.start, cols.stop - cols.start)
    if scale < 1.5 or side >= _ZOOM_BELOW:
        return None
    height, width = shape
    cy, cx = (rows.start + rows.stop) / 2, (cols.start + cols.stop) / 2
    return (
        max(0.0, (cx - 1.5 * side) / width),
        max(0.0, (cy - 1.5 * side) / height),
        min(1.0, (cx + 1.5 * side) / width),
        min(1.0, (cy + 1.5 * side) / height),
    )


_ZOOM_BELOW = 48


def _decode(
    data: bytes | Image.Image,
    max_pixels: int,
    region: tuple[float, float, float, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Open, check size, rotate by EXIF, crop to `region` (fractions of the upright image) and
    shrink to a float32 grayscale array (0..255); also how much it was shrunk."""
    if isinstance(data, Image.Image):
        image, owned = data, False
    else:
        image, owned = _open(data), True
    width, height = image.size
    if width * height > max_pixels:
        raise PreprocessError(
            f"The image has {width}x{height} pixels, more than the {max_pixels:,} allowed; "
            "send a smaller photo."
        )
    if max(width, height) < MIN_SIDE:
        raise PreprocessError(
            f"The image is only {width}x{height} pixels; send one at least "
            f"{MIN_SIDE} pixels high or wide."
        )
    try:
        if owned:
            if image.format == "JPEG":
                image.draft("L", _draft_size(width, height, region))
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
        gray = _grayscale(image)
    except PreprocessError:
        raise
    except Exception as exc:
        raise PreprocessError(
            "The image file is damaged or in a form I cannot read; send it again as a photo."
        ) from exc
    return gray, max(width, height) / max(gray.shape)


def _draft_size(
    width: int, height: int, region: tuple[float, float, float, float] | None
) -> tuple[int, int]:
    """The least size to decode a JPEG at (DCT scaling skips most of the decoding work): the
    longer side `WORK_SIZE`; for a `region`, both sides large enough that the crop's longer
    side reaches `WORK_SIZE` whichever way EXIF then turns the image."""
    if region is None:
        scale = WORK_SIZE / max(width, height)
        return math.ceil(width * scale), math.ceil(height * scale)
    fraction = max(region[2] - region[0], region[3] - region[1])
    return (round(WORK_SIZE / fraction),) * 2


def _open(data: bytes) -> Image.Image:
    """Read the header lazily; Pillow's own bomb check is turned into our error."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise PreprocessError("That is not an image; send a photo of a handwritten digit.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PreprocessError(
            "The image has too many pixels to be processed safely; send a smaller photo."
        ) from exc
    except Exception as exc:
        raise PreprocessError(
            "That is not an image I can read; send a JPEG or PNG photo of a handwritten digit."
        ) from exc


def _grayscale(image: Image.Image) -> np.ndarray:
    """Luminance as float32 0..255 at working size; a transparent background becomes paper."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0.0, neginf=0.0)
        values -= min(0.0, float(values.min())) if values.size else 0.0
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 / 65535.0 if mode.startswith("I;16") or top > 255 else 1.0
        if top * scale > 255:
            scale = 255.0 / top
        return _shrink(Image.fromarray(np.clip(values * scale, 0, 255).astype(np.float32)))
    if (mode == "P" and "transparency" in image.info) or mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        return _composite(image)
    if image.mode != "L":
        image = image.convert("L")
    return _shrink(image)


def _composite(image: Image.Image) -> np.ndarray:
    """Put transparent pixels on paper that contrasts with the opaque (ink) pixels."""
    image = _shrink_image(image)
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    lum = np.asarray(image.convert("L"), dtype=np.float32)
    if alpha.min() >= 1.0:
        return lum
    opaque_lum = float((lum * alpha).sum() / max(alpha.sum(), 1e-6))
    paper = 255.0 if opaque_lum < 128 else 0.0
    return lum * alpha + paper * (1.0 - alpha)


def _shrink_image(image: Image.Image) -> Image.Image:
    """Longer side at most `WORK_SIZE`: integer box reduction first (fast), then resampling."""
    factor = max(image.size) // WORK_SIZE
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) <= WORK_SIZE:
        return image
    scale = WORK_SIZE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _shrink(image: Image.Image) -> np.ndarray:
    return np.asarray(_shrink_image(image), dtype=np.float32)


def _frame(ink: np.ndarray, mask: np.ndarray, floor: float) -> np.ndarray:
    """MNIST framing of the digit's `ink` (cropped to its box) where `mask` is set, and a
    pixel around: contrast and stroke normalised, 20 px box, centred."""
    crop = np.where(grow(mask), ink, 0.0)
    level = quantile(crop[mask], 0.9)
    crop = np.clip((crop - floor) / max(level - floor, 1e-3), 0.0, 1.0)
    crop = _normalise_stroke(crop)
    return _centre(_fit_box(crop))


def _stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width: twice the area over the perimeter (exact for long straight strokes).
    The perimeter counts the changes between neighbours and the ink on the crop's edges."""
    perimeter = np.count_nonzero(binary[1:] != binary[:-1])
    perimeter += np.count_nonzero(binary[:, 1:] != binary[:, :-1])
    perimeter += np.count_nonzero(binary[[0, -1]]) + np.count_nonzero(binary[:, [0, -1]])
    return 2.0 * np.count_nonzero(binary) / max(int(perimeter), 1)


def _normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Thicken hairlines, and thin down marker strokes, to MNIST's relative stroke width.

    A crop already at MNIST's scale is left alone: its strokes were drawn at that scale.
    """
    side = max(crop.shape)
    width = _stroke_width(crop >= 0.5) / side
    if side <= MNIST_BOX + 2 or STROKE_BAND[0] <= width <= STROKE_BAND[1]:
        return crop
    work = 2 * MNIST_BOX
    scale = work / side
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    crop = np.asarray(
        Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR),
        dtype=np.float32,
    )
    level = float(crop.max())
    if level > 0:
        crop = np.clip(crop / max(level * 0.8, 1e-3), 0.0, 1.0)
    width = _stroke_width(crop >= 0.5)
    target = STROKE_REL * work
    radius = round((target - width) / 2)
    if radius > 0:
        crop = disk_dilation(crop, radius)
    elif radius < 0:
        eroded = disk_erosion(crop, -radius)
        if eroded.max() >= 0.5:
            crop = eroded
    return _tight(crop)


def _tight(crop: np.ndarray) -> np.ndarray:
    return crop[bounding_box(crop > 0.05)]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the box's longer side is 20 px, aspect kept, anti-aliased.

    The box is that of the strokes at half their level: in MNIST the box of every inked pixel
    is also the box at half level, so a blur halo outside it is not part of the digit.
    """
    crop = crop[bounding_box(crop >= _BOX_LEVEL)]
    scale = MNIST_BOX / max(crop.shape)
    if scale == 1.0:
        return crop
    size = (
        max(1, min(MNIST_BOX, round(crop.shape[1] * scale))),
        max(1, min(MNIST_BOX, round(crop.shape[0] * scale))),
    )
    kernel = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    image = Image.fromarray(crop.astype(np.float32)).resize(size, kernel)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


_BOX_LEVEL = 0.5


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on the centre, as MNIST did."""
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    height, width = digit.shape
    total = float(digit.sum())
    if total > 0:
        cy = float((digit.sum(axis=1) * np.arange(height)).sum() / total)
        cx = float((digit.sum(axis=0) * np.arange(width)).sum() / total)
    else:
        cy, cx = (height - 1) / 2, (width - 1) / 2
    top = min(max(round(MNIST_SIZE / 2 - cy), 0), MNIST_SIZE - height)
    left = min(max(round(MNIST_SIZE / 2 - cx), 0), MNIST_SIZE - width)
    out[top : top + height, left : left + width] = digit
    return np.round(out * (255.0 / max(float(out.max()), 1e-6))).astype(np.uint8)
