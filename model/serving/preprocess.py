"""Photo → MNIST: turn any user image of a handwritten digit into a 28x28 MNIST-style array.

Training (user images) and serving both go through `to_mnist`, so a photo reaches the model
looking like the MNIST images it learned from. The work is done by the stages of
`model.serving.photo`, in order: decode a small grayscale copy, divide out the paper and settle the
ink's polarity, take out paper lines and frames, find the digit among the pieces of ink, and
frame it as MNIST does. A digit small in a large photo is looked at again at full resolution.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from model.serving.photo.box import Box
from model.serving.photo.decode import (
    DEFAULT_MAX_PIXELS,
    READABLE_FORMATS,
    WORK_SIZE,
    Decoded,
    PreprocessError,
    decode,
    open_image,
)
from model.serving.photo.digits import (
    CleanPage,
    Digit,
    clean_page,
    find_digit,
    paper_noise,
    without_faint_grid,
)
from model.serving.photo.framing import MNIST_BOX, frame
from model.serving.photo.imageops import grow
from model.serving.photo.ink import ink_map
from model.serving.photo.layout import Group, group_digits
from model.serving.refusals import NO_DIGIT

_ZOOM_BELOW = 48
"""A lone digit smaller than this (in the working copy's pixels) is looked at again at full
resolution."""

_SHARP_SIDE = 64
"""The digits of a page are framed from a copy that shows them about this many pixels tall..."""

_SHARPEST = 4.0
"""...at most this many times the working copy's resolution..."""

_SHARPER_FROM = 1.5
"""...and only when that is at least this many times it (the same for the lone digit's zoom)."""

_MIN_SHARP_PIXELS = 10
"""A digit's ink on the sharper copy is used when it has at least this many pixels."""

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MNIST_BOX",
    "READABLE_FORMATS",
    "FoundDigit",
    "Page",
    "PreprocessError",
    "find_digits",
    "open_image",
    "to_mnist",
]


class FoundDigit(NamedTuple):
    """One digit of a picture."""

    image: np.ndarray
    """Shape (28, 28), uint8: the digit in MNIST's framing, as `to_mnist` gives it."""
    box: Box
    """Where it lies in the picture's pixels, upright."""
    touching: bool
    """The box seems to hold digits that touch, which could not be cut apart."""


class Page(NamedTuple):
    """Every digit of a picture."""

    digits: list[FoundDigit]
    """In reading order: lines top to bottom, each left to right; never empty."""
    size: tuple[int, int]
    """The picture's width and height, upright."""
    ignored: list[str]
    """What was left out as not a digit (specks, long lines, large blots, a form's printed
    text), for debugging."""


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
    decoded = decode(data, max_pixels)
    return _one_digit(data, max_pixels, decoded, ink_map(decoded.gray))[0]


def find_digits(data: bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Page:
    """Find every digit in a photo, scan or screenshot, each in MNIST's framing.

    One digit comes out exactly as `to_mnist` gives it. Several are told apart by the page's
    layout (`photo.layout`), once the pieces of a grid too faint to show as lines are taken
    out (they are looked for only then); when they are small in a large photo, they are framed
    from a sharper copy of it.

    Parameters
    ----------
    data : bytes or PIL.Image.Image
        Encoded image or an already opened image.
    max_pixels : int
        Refuse images with more pixels than this, before decoding them.

    Raises
    ------
    PreprocessError
        Not an image, too small, too large, or no ink found.
    """
    decoded = decode(data, max_pixels)
    ink = ink_map(decoded.gray)
    page = clean_page(ink)
    groups, left_out = group_digits(page.parts)
    if len(groups) > 1:
        # Several digits, or the pieces of a grid too faint to show as lines.
        gridless = without_faint_grid(ink, page)
        if gridless is not None:
            page = gridless
            groups, left_out = group_digits(page.parts)
    ignored = page.removed + left_out
    if len(groups) <= 1:
        image, box = _one_digit(data, max_pixels, decoded, ink, page)
        touching = bool(groups) and groups[0].touching
        return Page([FoundDigit(image, box, touching)], decoded.size, ignored)
    sharper = _sharper(data, max_pixels, decoded, groups)
    digits = []
    for group in groups:
        image = _framed(group, page, sharper)
        box = _in_original(group.box, decoded.gray.shape, decoded.size)
        digits.append(FoundDigit(image, box, group.touching))
    return Page(digits, decoded.size, ignored)


def _one_digit(
    data: bytes | Image.Image,
    max_pixels: int,
    decoded: Decoded,
    ink: np.ndarray,
    page: CleanPage | None = None,
) -> tuple[np.ndarray, Box]:
    """The digit of a picture holding one, and its box."""
    digit = find_digit(ink, page)
    if digit is None:
        raise PreprocessError(NO_DIGIT)
    box = _in_original(digit.box, ink.shape, decoded.size)
    region = _zoom_region(digit, ink.shape, decoded.scale)
    if region is not None:
        zoomed = decode(data, max_pixels, region).gray
        zoomed_digit = find_digit(ink_map(zoomed))
        if zoomed_digit is not None:
            digit = zoomed_digit
            box = _in_original(digit.box, zoomed.shape, decoded.size, region)
    return frame(digit.ink, digit.mask, digit.floor), box


def _in_original(
    box: Box,
    shape: tuple[int, ...],
    size: tuple[int, int],
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
) -> Box:
    """A box of an array that shows `region` (x0, y0, x1, y1 as fractions) of the picture,
    in the picture's pixels."""
    width, height = size
    left, top, right, bottom = region

    def x(col: float) -> int:
        return round((left + col / shape[1] * (right - left)) * width)

    def y(row: float) -> int:
        return round((top + row / shape[0] * (bottom - top)) * height)

    return Box(x(box.x0), y(box.y0), x(box.x1), y(box.y1))


class _Sharper(NamedTuple):
    """A sharper copy of the page, for digits small in a large photo."""

    ink: np.ndarray
    factor: float
    """Its pixels per pixel of the working copy."""
    threshold: float
    floor: float


def _sharper(
    data: bytes | Image.Image, max_pixels: int, decoded: Decoded, groups: list[Group]
) -> _Sharper | None:
    """The page again at the resolution that makes its median digit `_SHARP_SIDE` pixels
    tall (at most the photo's own), when the working copy shows them smaller than that."""
    side = float(np.median([g.box.height for g in groups]))
    factor = min(decoded.scale, _SHARP_SIDE / max(side, 1.0), _SHARPEST)
    if factor < _SHARPER_FROM:
        return None
    gray = decode(data, max_pixels, work_size=round(WORK_SIZE * factor)).gray
    ink = ink_map(gray)
    threshold, _, floor = paper_noise(ink)
    return _Sharper(ink, gray.shape[0] / decoded.gray.shape[0], threshold, floor)


def _framed(group: Group, page: CleanPage, sharper: _Sharper | None) -> np.ndarray:
    """One digit of a page of several in MNIST's framing: from the sharper copy where there
    is one, keeping its ink near the digit's own strokes on the working copy."""
    box = group.box
    if sharper is not None:
        f = sharper.factor
        top, left = int(box.y0 * f), int(box.x0 * f)
        bottom, right = int(np.ceil(box.y1 * f)), int(np.ceil(box.x1 * f))
        crop = sharper.ink[top:bottom, left:right]
        near = Image.fromarray(group.mask).resize(crop.shape[::-1], Image.Resampling.NEAREST)
        mask = (crop > sharper.threshold) & grow(np.asarray(near), max(1, round(f)))
        if np.count_nonzero(mask) >= _MIN_SHARP_PIXELS:
            return frame(crop, mask, sharper.floor)
    return frame(page.ink[box.slices], group.mask, page.floor)


def _zoom_region(
    digit: Digit, shape: tuple[int, int], scale: float
) -> tuple[float, float, float, float] | None:
    """Where to look again at full resolution when the digit is small in a large photo.

    Returns (x0, y0, x1, y1) as fractions of the image, three digit-sizes wide.
    """
    box = digit.box
    side = max(box.height, box.width)
    if scale < _SHARPER_FROM or side >= _ZOOM_BELOW:
        return None
    height, width = shape
    cy, cx = (box.y0 + box.y1) / 2, (box.x0 + box.x1) / 2
    return (
        max(0.0, (cx - 1.5 * side) / width),
        max(0.0, (cy - 1.5 * side) / height),
        min(1.0, (cx + 1.5 * side) / width),
        min(1.0, (cy + 1.5 * side) / height),
    )
