"""Stage 3, lines, part one: the thin straight bands that cross most of the picture.

Bands are searched for near horizontal and, on the transposed mask, near vertical, at the
slope whose projection is sharpest; bands found apart that are one (a slightly curved stroke,
a marker's two edges) are joined, and each is measured: its weight, span and position.
Which of them are the paper's is `paper_lines`' question.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

from model.serving.photo.imageops import coordinates, quantile

LINE_COVER = 0.6
"""A line covers at least this share of the picture's width (or height)."""

_LINE_FLANKED = 0.5
"""At most this share of a line's columns may have ink 2 pixels beyond its band: a line is
thin where it runs alone, though not where the digit crosses it."""

_LINE_MIN_IMAGE = 96
"""Pictures narrower than this hold no lines worth finding."""

SAME_BAND = 6
"""Lines of one axis this close (in pixels, across the picture's middle) are one band."""

_BETWEEN_SAMPLES = 16
"""Whether two lines are one band is looked at in this many places along them."""

_BETWEEN_INKED = 0.6
"""Two lines with ink between them at this share of the places looked at are one band."""

_LINE_LEVEL_QUANTILE = 0.3
"""A line's level and weight are read at this quantile over its length, so that a pen stroke
along up to 70% of it does not count."""

_CORE_SHARE = 0.25
"""A line's core (the pixels it darkens) is its places across the band that hold ink at this
share of its positions along it, or more: a stroke or another line crossing it holds a few."""

_DARKEST_LINE = 0.95
"""A line's level is taken as at most this, so that dividing it out stays finite."""

_SLOPES = np.tan(np.deg2rad(np.arange(-10.0, 10.5, 1.0)))
"""The slopes a line is looked for at first: ±10° in 1° steps."""

_SLOPE_STEPS = np.tan(np.deg2rad(np.arange(-0.75, 0.8, 0.25)))
"""Then in quarter degrees around the best of them."""

_SLOPE_SAMPLE = 4000
"""The slope search looks at about this many ink pixels at most, evenly spread in raster
order: the sharpest projection stands out as clearly, at a fraction of the cost on pages with
large dark regions (a table beside the paper, a hard shadow)."""

_COARSE_SAMPLE = 1000
"""The 1° steps are first scored on about this many of the sampled pixels, at least."""

_CANDIDATES = 4
"""How many of the 1° steps best on the sparser sample are scored on the whole sample."""

_RADIX_KEYS = 1 << 16
"""Columns up to this many are sorted as 16-bit keys (`_by_column`)."""


@dataclass(eq=False)
class Line:
    """One band: its pixels, which way it runs, and what it holds."""

    ys: np.ndarray
    xs: np.ndarray
    axis: int
    """1: near horizontal (runs along the columns), 0: near vertical."""
    tilt: float
    """The slope it was found at: its across coordinate falls by `tilt` a pixel along."""
    level: float | None = None
    """What the line alone darkens: its peak across the band, low over its length (worked
    out when the line is taken out, `level_in`)."""
    weight: float = 0.0
    """Its ink per position along it (width times darkness), low over its length."""
    span: tuple[int, int] = (0, 0)
    """Its first and last position along."""
    intercept: float = 0.0
    """Its across coordinate is `intercept - tilt * along`, the median over its pixels (a pen
    stroke along part of it does not move it)."""
    position: float = 0.0
    """Where it crosses the picture's middle, across its run."""
    why: str = ""
    """Why it is taken out ('' while it is kept)."""

    def level_in(self, ink: np.ndarray) -> float:
        """The line's `level` in the ink map."""
        if self.level is None:
            self.level = line_level(ink[self.ys, self.xs], self.along, self.offset)
        return self.level

    @cached_property
    def offset(self) -> np.ndarray:
        """Each pixel's place across the band, in whole pixels from the band's first."""
        offset = np.round(self.across + self.tilt * self.along).astype(np.intp)
        return offset - offset.min()

    @cached_property
    def core(self) -> np.ndarray:
        """Which of its pixels the line itself darkens: those at the places across the band
        where it holds ink along much of its length (`_CORE_SHARE`). A band is three pixels or
        more across, and a stroke crossing a thin line fills all of it there; the stroke's
        pixels beside the line are not the line's."""
        places = np.bincount(self.offset)
        return places[self.offset] >= _CORE_SHARE * (self.span[1] - self.span[0] + 1)

    @property
    def along(self) -> np.ndarray:
        return self.xs if self.axis == 1 else self.ys

    @property
    def across(self) -> np.ndarray:
        return self.ys if self.axis == 1 else self.xs


def find_lines(mask: np.ndarray, ink: np.ndarray) -> list[Line]:
    """The thin straight bands of `mask` covering most of the picture, near horizontal then
    near vertical, one per band, each measured on `ink`."""
    if not (_may_hold_lines(mask) or _may_hold_lines(mask.T)):
        return []
    lines = _one_per_band([Line(ys, xs, 1, t) for ys, xs, t in _lines_along(mask)], ink, mask)
    lines += _one_per_band([Line(ys, xs, 0, t) for xs, ys, t in _lines_along(mask.T)], ink, mask)
    return lines


def _one_per_band(lines: list[Line], ink: np.ndarray, mask: np.ndarray) -> list[Line]:
    """The lines of one axis measured, those found apart in one band made one: a stroke
    slightly curved, found in pieces at two slopes, or a marker's stroke found at its two
    edges, with ink all the way between them."""
    for line in lines:
        measure(line, ink)
    merged: list[Line] = []
    for line in sorted(lines, key=lambda line: line.position):
        if merged and _one_band(merged[-1], line, mask):
            last = merged.pop()
            tilt = max(last, line, key=lambda one: one.ys.size).tilt
            ys, xs = np.concatenate([last.ys, line.ys]), np.concatenate([last.xs, line.xs])
            line = Line(ys, xs, line.axis, tilt)
            measure(line, ink)
        merged.append(line)
    return merged


def _one_band(first: Line, second: Line, mask: np.ndarray) -> bool:
    """Whether two lines of one axis, `second` further along, are one band: close, or with
    ink all the way between them wherever they both run (not a third line midway)."""
    gap = second.position - first.position
    if gap <= SAME_BAND:
        return True
    start, stop = max(first.span[0], second.span[0]), min(first.span[1], second.span[1])
    if stop <= start:
        return False
    along = start + (np.arange(_BETWEEN_SAMPLES) * (stop - start)) // (_BETWEEN_SAMPLES - 1)
    top = first.intercept - first.tilt * along
    bottom = second.intercept - second.tilt * along
    limit = mask.shape[1 - first.axis] - 1
    # Midway first: most pairs are two lines of the paper, with paper between them.
    for share in (np.array([[0.5]]), np.arange(1, round(gap))[:, None] / round(gap)):
        across = np.clip((top + share * (bottom - top)).astype(np.intp), 0, limit)
        at = np.broadcast_to(along, across.shape)
        inked = mask[across, at] if first.axis == 1 else mask[at, across]
        if inked.mean() < _BETWEEN_INKED:
            return False
    return True


def line_level(values: np.ndarray, along: np.ndarray, offset: np.ndarray) -> float:
    """What a line alone darkens: its peak across the band at each position along it, at a low
    quantile over the positions, so that a pen stroke running along part of it does not
    count. `offset` is each pixel's place across the band (whole pixels, any origin): the
    peaks are read from a table of positions by places."""
    offset = offset - offset.min()
    table = np.zeros((int(along.max()) + 1, int(offset.max()) + 1), np.float32)
    table[along, offset] = values
    peaks = table.max(axis=1)
    return min(quantile(peaks[peaks > 0], _LINE_LEVEL_QUANTILE), _DARKEST_LINE)


def measure(line: Line, ink: np.ndarray) -> None:
    """Fill in a line's weight, span and position."""
    along, across = line.along, line.across
    values = ink[line.ys, line.xs]
    line.span = (int(along.min()), int(along.max()))
    held = np.bincount(along, weights=values)
    line.weight = quantile(held[held > 0], _LINE_LEVEL_QUANTILE)
    line.intercept = quantile(across + line.tilt * along, 0.5)
    line.position = line.intercept - line.tilt * ink.shape[line.axis] / 2


def _lines_along(
    mask: np.ndarray, slope: float | None = None
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The pixels (rows, columns) of each near-horizontal thin straight line covering most of
    the width, and the slope it was found at (its rows fall by it a column), searched for
    unless given.

    A 3-pixel band counts as a line when it covers `LINE_COVER` of the columns and, at most of them,
    the rows 2 pixels beyond it are clear: a thick stroke or a blob is not a line. Overlapping
    bands make one line.

    The lines' slope is the one whose row projection is sharpest (projection-profile skew
    estimation); a second pass catches lines that perspective tilted differently.
    """
    width = mask.shape[1]
    result: list[tuple[np.ndarray, np.ndarray, float]] = []
    if not _may_hold_lines(mask):
        return result
    ys, xs = coordinates(mask)
    given = slope
    for _ in range(1 if given is not None else 2):
        slope = given if given is not None else _line_slope(ys, xs)
        rows = np.floor(ys + xs * slope).astype(np.intp)
        rows -= rows.min()
        hits = np.zeros((rows.max() + 8, width), bool)
        hits[rows + 3, xs] = True
        band = hits[3:-4] | hits[4:-3] | hits[5:-2]
        covered = np.count_nonzero(band, axis=1)
        lines = np.flatnonzero(covered >= LINE_COVER * width)
        flanked = band[lines] & hits[lines + 1] & hits[lines + 7]
        lines = lines[np.count_nonzero(flanked, axis=1) <= _LINE_FLANKED * covered[lines]]
        if lines.size == 0:
            break
        # Bands that overlap are one line: number the runs of line rows 1, 2, ...
        line_of_row = np.zeros(hits.shape[0], np.int16)
        starts = np.concatenate([[True], np.diff(lines) > 3])
        number = np.cumsum(starts)
        for offset in range(3):
            line_of_row[lines + offset] = number
        line_of_pixel = line_of_row[rows]
        order = np.argsort(line_of_pixel, kind="stable")
        bounds = np.searchsorted(line_of_pixel[order], np.arange(1, number[-1] + 2))
        result += [(ys[order[a:b]], xs[order[a:b]], slope) for a, b in pairwise(bounds)]
        off = line_of_pixel == 0
        ys, xs = ys[off], xs[off]
        if np.count_nonzero(np.bincount(xs, minlength=width)) < LINE_COVER * width:
            break  # what is left cannot hold a line
    return result


def _may_hold_lines(mask: np.ndarray) -> bool:
    """Whether ink reaches enough of the columns for a near-horizontal line: a projection
    test that spares most pages the search for lines."""
    width = mask.shape[1]
    return width >= _LINE_MIN_IMAGE and mask.any(axis=0).sum() >= LINE_COVER * width


def _line_slope(ys: np.ndarray, xs: np.ndarray) -> float:
    """The slope whose row projection is sharpest, in 1° steps then in quarter degrees around
    the best.

    The 1° steps are first scored on a sparser sample and only the few best there on the
    whole sample: the sharpest is nearly always among them, at a fraction of the cost.
    """
    every = max(1, ys.size // _SLOPE_SAMPLE)
    ys, xs = ys[::every], xs[::every]
    slopes = _SLOPES
    sparse = ys.size // _COARSE_SAMPLE
    if sparse > 1:
        sharpness = _sharpness(*_by_column(ys[::sparse], xs[::sparse]), slopes)
        slopes = slopes[np.sort(np.argsort(-sharpness, kind="stable")[:_CANDIDATES])]
    sample = _by_column(ys, xs)
    fine = slopes[np.argmax(_sharpness(*sample, slopes))] + _SLOPE_STEPS
    return float(fine[np.argmax(_sharpness(*sample, fine))])


def _by_column(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels' rows column by column, and how many pixels each column has.

    The columns are sorted as 16-bit keys where they fit, which numpy sorts by radix, many
    times faster than its stable sort of 64-bit indices, in the same order.
    """
    per_column = np.bincount(xs)
    keys = xs.astype(np.uint16) if per_column.size <= _RADIX_KEYS else xs
    return ys[np.argsort(keys, kind="stable")], per_column


def _sharpness(ys: np.ndarray, per_column: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    """How sharp the row projection of the pixels (`_by_column`) is under each slope: the sum
    of squared row counts.

    Under slope s a pixel falls in row y + floor(x·s), an integer shift per column, so the
    rows of all slopes come from one small table, repeated for each column's pixels, and fill
    one histogram, each slope in a stretch of its own.
    """
    shifts = np.floor(np.arange(per_column.size) * slopes[:, None]).astype(np.intp)
    shifts -= shifts.min(axis=1, keepdims=True)
    span = int(ys.max()) + int(shifts.max()) + 1
    shifts += np.arange(len(slopes))[:, None] * span
    rows = np.repeat(shifts, per_column, axis=1)
    rows += ys
    counts = np.bincount(rows.ravel(), minlength=len(slopes) * span)
    counts = counts.reshape(len(slopes), span)
    return (counts * counts).sum(axis=1)
