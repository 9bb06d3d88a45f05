"""Stage 5, digits: the paper's noise level, the ink that is the digit, and nothing else."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from model.serving.photo.box import Box
from model.serving.photo.components import Components, pad
from model.serving.photo.imageops import bounding_box, grow, quantile
from model.serving.photo.lines import FAINT_GRID, remove_lines, take_out_faint_grid
from model.serving.photo.paper_lines import FAINTER_THAN_PEN

_MIN_CONTRAST = 0.12
"""A digit's darkest ink reaches at least this ink level; a picture whose median pixel does is
half ink."""

_MIN_INK_PIXELS = 10
"""A digit has at least this many pixels."""

_STRONG = 0.4
"""Second pass: the digit's strokes reach this share of its ink level; a faint shadow edge or
ruled line touching it does not."""

_NOISE_SIGMAS = 4.5
"""The paper's noise level lies this many of its standard deviations above its median."""

_LOWEST_THRESHOLD = 0.07
"""However clean the paper, a pixel below this ink level is paper."""


class Digit(NamedTuple):
    """The digit found on the page."""

    box: Box
    """Where it lies in the ink map."""
    mask: np.ndarray
    """Its pixels within `box`, bool."""
    ink: np.ndarray
    """Its ink within `box`, with paper lines divided out."""
    floor: float
    """The paper's noise level in ink units (zero on a clean image, whose faintest
    anti-aliased pixels are then kept)."""


def find_digit(ink: np.ndarray, page: CleanPage | None = None) -> Digit | None:
    """The digit's pixels, everything else on the page dropped, and the paper's noise level.

    A digit that joins pieces far fainter than its pen is looked for again without the pieces
    of a faint grid, if there is one (`without_faint_grid`).

    A digit that fills the picture (a tight crop, a form's cell) is looked for again with a
    margin of paper around it: the statistics of the paper and the tests for what touches the
    border assume there is some.

    Parameters
    ----------
    ink : ndarray of shape (height, width), float32
        From `ink_map`.
    page : CleanPage, optional
        `clean_page(ink)`, when the caller has it already.

    Returns
    -------
    Digit or None
        None when there is no ink.
    """
    page = page if page is not None else clean_page(ink)
    if _joins_fainter_pieces(page):
        page = without_faint_grid(ink, page) or page
    digit = _find_digit(page)
    if digit is None or digit.box.sides_touched(ink.shape) >= 3:
        margin = max(4, max(ink.shape) // 4)
        padded = pad(ink, margin)
        framed = _find_digit(clean_page(padded))
        if framed is None and quantile(ink[::4, ::4], 0.5) >= _MIN_CONTRAST:
            # Ink on half of the picture leaves no room for paper lines: a straight band
            # there is the digit (a 1 cut to its box), however far it spans.
            framed = _find_digit(clean_page(padded, lines=False))
        if framed is not None:
            return framed._replace(box=framed.box.shifted(-margin, -margin))
    return digit


class CleanPage(NamedTuple):
    """The ink on a page with the paper's noise, frames and lines taken out."""

    ink: np.ndarray
    """The ink map, paper lines divided out."""
    mask: np.ndarray
    """Pixels above the paper's noise that are neither frames nor lines, bool."""
    parts: Components
    """The connected pieces of `mask`."""
    threshold: float
    """The ink level above which a pixel is not paper."""
    sigma: float
    """The paper's noise."""
    floor: float
    """The paper's noise level in ink units, as `Digit.floor`."""
    removed: list[str]
    """The lines and frames taken out, and why (for debugging)."""
    ruled_axes: frozenset[int]
    """The axes on which ruled or squared paper's lines were taken out (`Line.axis`)."""


def paper_noise(ink: np.ndarray) -> tuple[float, float, float]:
    """The ink level above which a pixel is not paper, the paper's noise and its floor (see
    `Digit.floor`), from the median and spread of a sparse sample."""
    sample = ink[::4, ::4]
    centre = quantile(sample, 0.5)
    sigma = 1.4826 * quantile(np.abs(sample - centre), 0.5)  # the median deviation's sigma
    floor = max(0.0, centre + _NOISE_SIGMAS * sigma)
    return max(_LOWEST_THRESHOLD, floor), sigma, floor


def clean_page(ink: np.ndarray, lines: bool = True) -> CleanPage:
    """Threshold the ink against the paper's own noise and take out frames drawn around the
    digits and, unless told not to, the lines of the paper."""
    threshold, sigma, floor = paper_noise(ink)
    mask = ink > threshold
    parts = Components(ink, mask)
    frames = parts.frames()
    removed = []
    if frames.any():
        mask = mask & ~parts.mask_of(frames)
        removed.append(f"a frame around the digit: {np.count_nonzero(frames)} piece(s)")
    without_lines, ink, taken, ruled = (
        remove_lines(mask, ink, threshold) if lines else (mask, ink, [], frozenset())
    )
    if frames.any() or taken:
        parts = Components(ink, without_lines)
    return CleanPage(ink, without_lines, parts, threshold, sigma, floor, removed + taken, ruled)


def without_faint_grid(ink: np.ndarray, page: CleanPage) -> CleanPage | None:
    """`page` (`clean_page(ink)`) again without the pieces of a grid too faint to show as lines
    (`lines.take_out_faint_grid`), or None when it has none."""
    mask, cleaned, said, ruled = take_out_faint_grid(
        page.mask, ink, page.ink, page.threshold, page.ruled_axes
    )
    if not said:
        return None
    parts = Components(cleaned, mask)
    return page._replace(
        ink=cleaned, mask=mask, parts=parts, removed=page.removed + said, ruled_axes=ruled
    )


def _joins_fainter_pieces(page: CleanPage) -> bool:
    """Whether the digit found joins a piece far fainter than its pen, on a page where no
    faint grid was taken out yet and squared paper's lines did not show on both axes:
    perhaps a faint grid's. (Where they showed on both, the pieces their removal left near a
    thin pencil stroke are the stroke's.)"""
    if len(page.ruled_axes) == 2 or any(why.startswith(FAINT_GRID) for why in page.removed):
        return False
    chosen = page.parts.digit
    if len(chosen) < 2:
        return False
    peaks = page.parts.peak[chosen]
    return bool(peaks.min() < FAINTER_THAN_PEN * peaks.max())


def _find_digit(page: CleanPage) -> Digit | None:
    ink, parts, threshold, sigma = page.ink, page.parts, page.threshold, page.sigma
    digit = parts.digit_mask()
    if not digit.any():
        return None
    box = bounding_box(digit)
    inside, faint = digit[box.slices], ink[box.slices]
    strong = inside & (faint >= _STRONG * quantile(faint[inside], 0.9))
    # Padded, so that the box's edge is not taken for the image's border.
    core = Components(pad(faint), pad(strong)).digit_mask()[1:-1, 1:-1]
    inside &= grow(core, 2)
    pixels = faint[inside]
    if pixels.size < _MIN_INK_PIXELS or pixels.max() < max(_MIN_CONTRAST, threshold + 2 * sigma):
        return None
    tight = bounding_box(inside)
    return Digit(
        box=tight.shifted(box.x0, box.y0),
        mask=inside[tight.slices],
        ink=faint[tight.slices],
        floor=page.floor,
    )
