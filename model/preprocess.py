"""Photo → MNIST: turn any user image of a handwritten digit into a 28x28 MNIST-style array.

Training (user images) and serving both go through `to_mnist`, so a photo reaches the model
looking like the MNIST images it learned from. The work is done by the stages of
`model.photo`, in order: decode a small grayscale copy, divide out the paper and settle the
ink's polarity, take out paper lines and frames, find the digit among the pieces of ink, and
frame it as MNIST does. A digit small in a large photo is looked at again at full resolution.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from model.photo.decode import DEFAULT_MAX_PIXELS, PreprocessError, decode
from model.photo.digits import Digit, find_digit
from model.photo.framing import MNIST_BOX, STROKE_BAND, frame
from model.photo.ink import ink_map

__all__ = ["DEFAULT_MAX_PIXELS", "MNIST_BOX", "STROKE_BAND", "PreprocessError", "to_mnist"]


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
    gray, scale = decode(data, max_pixels)
    ink = ink_map(gray)
    digit = find_digit(ink)
    if digit is None:
        raise PreprocessError(_NO_INK)
    region = _zoom_region(digit, ink.shape, scale)
    if region is not None:
        zoomed, _ = decode(data, max_pixels, region)
        zoomed_digit = find_digit(ink_map(zoomed))
        if zoomed_digit is not None:
            digit = zoomed_digit
    return frame(digit.ink, digit.mask, digit.floor)


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
