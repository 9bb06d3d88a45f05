"""Stage 3, lines: the paper's own lines taken out, and nothing the pen drew.

A thin straight band across most of the picture is one of three things:

- ruled or squared paper: a family of parallel lines printed alike, evenly spaced. Their ink
  level is divided out of their pixels as the paper's was, so a pen stroke along or across
  one keeps the ink the pen added; strokes crossing a line the division cut are bridged;
- the paper's edge: a band along the picture's border;
- otherwise, a band on its own. A band of the pen's own weight is the digit's stroke (the
  stem of a 1, the bar of a 4 or of a 7, the base of a 2 written close up), however long it
  is, unless it touches no part of the digit and reaches past it at both ends (a rule or a
  frame's side apart from the digit). A band much lighter than the pen (a single ruled line,
  a printed rule) is divided out when it reaches past the digit at both ends, and is a
  lightly drawn stroke of the digit otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np

from model.serving.photo.components import Components
from model.serving.photo.imageops import (
    bounding_box,
    coordinates,
    disk_dilation,
    disk_erosion,
    grow,
    quantile,
)

_LINE_COVER = 0.6
"""A line covers at least this share of the picture's width (or height)."""

_LINE_FLANKED = 0.5
"""At most this share of a line's columns may have ink 2 pixels beyond its band: a line is
thin where it runs alone, though not where the digit crosses it."""

_BAND_HALF = 2.5
"""A faint line of a family is looked for within this many pixels of where its lattice puts
it."""

_FAINT_LINES = 0.5
"""A family's faint lines are looked for among the pixels above this share of the paper's
noise threshold."""

_LINE_MIN_IMAGE = 96
"""Pictures narrower than this hold no lines worth finding."""

_SAME_BAND = 6
"""Lines of one axis this close (in pixels, across the picture's middle) are one band."""

_BETWEEN_SAMPLES = 16
_BETWEEN_INKED = 0.6
"""Two lines with ink between them at this share of the places looked at are one band."""

_LINE_LEVEL_QUANTILE = 0.3
"""A line's level and weight are read at this quantile over its length, so that a pen stroke
along up to 70% of it does not count."""

_DARKEST_LINE = 0.95
"""A line's level is taken as at most this, so that dividing it out stays finite."""

_ALIKE = 2.0
"""The lines of one family weigh within this factor of each other: they were printed alike."""

_MOST_SKIPPED = 5
"""A gap between two found lines of a family may hold this many lines the search missed."""

_OFF_LATTICE = 1e9
"""Stands for the step of a line off the lattice (no lattice has that many steps)."""

_ON_LATTICE = 0.2
"""A family's line lies within this share of the spacing from a multiple of it."""

_PEN_LIKE = 0.5
"""A band weighing at least this share of the pen's is the pen's."""

_EDGE = 3
"""A band with most of its pixels this close to the picture's border is the paper's edge."""

_PAST_MARGIN = 0.05
"""A line across the page reaches past the digit by this share of the picture at each end,"""

_PAST_SHARE = 0.25
"""and by this share of the digit's own extent, unless it runs on to the picture's edge."""

_TOUCH = 2
"""A band within this many pixels of the digit touches it."""

_BRIDGE = 3
"""Strokes cut by a removed line are bridged by a closing with a disk of this radius."""

_MIN_REST = 15
"""With fewer pixels than this besides the lines, the lines are all there is: the digit."""

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
class _Line:
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
            self.level = _line_level(ink[self.ys, self.xs], self.along, self.offset)
        return self.level

    @cached_property
    def offset(self) -> np.ndarray:
        """Each pixel's place across the band, in whole pixels from the band's first."""
        offset = np.round(self.across + self.tilt * self.along).astype(np.intp)
        return offset - offset.min()

    @property
    def along(self) -> np.ndarray:
        return self.xs if self.axis == 1 else self.ys

    @property
    def across(self) -> np.ndarray:
        return self.ys if self.axis == 1 else self.xs


def remove_lines(
    mask: np.ndarray, ink: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Take the paper's lines out of `mask` and divide their ink out of `ink`.

    Parameters
    ----------
    mask : ndarray of shape (height, width), bool
        Pixels above the paper's noise.
    ink : ndarray of shape (height, width), float32
        The ink map.
    threshold : float
        The ink level above which a pixel is not paper.

    Returns
    -------
    mask, ink, removed
        The mask without the lines, the ink with them divided out, and a sentence for each
        kind of line taken out (for debugging).
    """
    if not (_may_hold_lines(mask) or _may_hold_lines(mask.T)):
        return mask, ink, []
    lines = _one_per_band([_Line(ys, xs, 1, t) for ys, xs, t in _lines_along(mask)], ink, mask)
    lines += _one_per_band([_Line(ys, xs, 0, t) for xs, ys, t in _lines_along(mask.T)], ink, mask)
    if not lines:
        return mask, ink, []
    rest = mask.copy()
    for line in lines:
        rest[line.ys, line.xs] = False
    # Besides the lines, too little ink to tell the digit from them: the lines are the digit.
    enough = np.count_nonzero(rest) >= max(_MIN_REST, 0.01 * np.count_nonzero(mask))
    digit = _Digit(ink, rest if enough else None)
    for axis, lattice in _find_families(lines, digit).items():
        lines += _faint_lines_of(lattice, axis, lines, mask, ink, threshold)
    _find_edges(lines, mask.shape)
    if any(not line.why for line in lines) and digit.mask is not None:
        _judge_lone_lines(lines, digit.mask, digit.pen, ink)
    removed = [line for line in lines if line.why]
    if not removed:
        return mask, ink, []
    return (*_take_out(removed, mask, ink, threshold, digit.mask), _said(removed))


class _Digit:
    """The digit among the ink besides the lines (`rest`, None when there is too little),
    labelled only when a judgement needs it."""

    def __init__(self, ink: np.ndarray, rest: np.ndarray | None) -> None:
        self._ink, self._rest = ink, rest

    @cached_property
    def _parts(self) -> Components | None:
        return Components(self._ink, self._rest) if self._rest is not None else None

    @cached_property
    def mask(self) -> np.ndarray | None:
        """Its pixels (None when there is too little ink besides the lines, or no digit)."""
        if self._parts is None:
            return None
        found = self._parts.digit_mask()
        return found if found.any() else None

    @property
    def pen(self) -> float:
        """The pen's ink per position along a stroke (`_pen_weight`)."""
        assert self._parts is not None
        return _pen_weight(self._parts)


def _one_per_band(lines: list[_Line], ink: np.ndarray, mask: np.ndarray) -> list[_Line]:
    """The lines of one axis measured, those found apart in one band made one: a stroke
    slightly curved, found in pieces at two slopes, or a marker's stroke found at its two
    edges, with ink all the way between them."""
    for line in lines:
        _measure(line, ink)
    merged: list[_Line] = []
    for line in sorted(lines, key=lambda line: line.position):
        if merged and _one_band(merged[-1], line, mask):
            last = merged.pop()
            tilt = max(last, line, key=lambda one: one.ys.size).tilt
            ys, xs = np.concatenate([last.ys, line.ys]), np.concatenate([last.xs, line.xs])
            line = _Line(ys, xs, line.axis, tilt)
            _measure(line, ink)
        merged.append(line)
    return merged


def _one_band(first: _Line, second: _Line, mask: np.ndarray) -> bool:
    """Whether two lines of one axis, `second` further along, are one band: close, or with
    ink all the way between them wherever they both run (not a third line midway)."""
    gap = second.position - first.position
    if gap <= _SAME_BAND:
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


def _line_level(values: np.ndarray, along: np.ndarray, offset: np.ndarray) -> float:
    """What a line alone darkens: its peak across the band at each position along it, at a low
    quantile over the positions, so that a pen stroke running along part of it does not
    count. `offset` is each pixel's place across the band (whole pixels, any origin): the
    peaks are read from a table of positions by places."""
    offset = offset - offset.min()
    table = np.zeros((int(along.max()) + 1, int(offset.max()) + 1), np.float32)
    table[along, offset] = values
    peaks = table.max(axis=1)
    return min(quantile(peaks[peaks > 0], _LINE_LEVEL_QUANTILE), _DARKEST_LINE)


def _family_level(lines: list[_Line], ink: np.ndarray) -> float:
    """What a family's lines alone darken, read over all of them at once (the paper's lines
    were printed alike): each line's positions are numbered after the previous line's."""
    values = np.concatenate([ink[line.ys, line.xs] for line in lines])
    starts = np.cumsum([0] + [line.span[1] + 1 for line in lines[:-1]])
    along = np.concatenate([line.along + start for line, start in zip(lines, starts, strict=True)])
    offset = np.concatenate([line.offset for line in lines])
    return _line_level(values, along, offset)


def _measure(line: _Line, ink: np.ndarray) -> None:
    """Fill in a line's weight, span and position."""
    along, across = line.along, line.across
    values = ink[line.ys, line.xs]
    line.span = (int(along.min()), int(along.max()))
    held = np.bincount(along, weights=values)
    line.weight = quantile(held[held > 0], _LINE_LEVEL_QUANTILE)
    line.intercept = quantile(across + line.tilt * along, 0.5)
    line.position = line.intercept - line.tilt * ink.shape[line.axis] / 2


def _find_families(lines: list[_Line], digit: _Digit) -> dict[int, tuple[float, float]]:
    """Mark the lines of ruled or squared paper, on each axis: the largest set of lines that
    weigh alike and lie on one evenly spaced lattice, three or more, or two that both reach
    past the digit at both ends; then every other line on that lattice, which is one of the
    paper's lines with a pen stroke along it.

    Two parallel lines that end where the digit does are its own: a 7's bar and crossbar
    close up, or the two edges of a marker's hollow stroke.

    Returns each axis's lattice (origin, spacing) where it has a family."""
    lattices = {}
    for axis in (0, 1):
        along = [line for line in lines if line.axis == axis]
        alike = _alike(along)
        lattice = _lattice(alike)
        if lattice is None:
            continue
        family = _on(alike, lattice)
        if len(family) < 2 or (
            len(family) == 2
            and (digit.mask is None or any(_beyond(line, digit.mask) is None for line in family))
        ):
            continue
        lattices[axis] = lattice
        for line in _on(along, lattice):
            line.why = "ruled or squared paper"
    return lattices


def _faint_lines_of(
    lattice: tuple[float, float],
    axis: int,
    lines: list[_Line],
    mask: np.ndarray,
    ink: np.ndarray,
    threshold: float,
) -> list[_Line]:
    """The family's lines that rise above the paper's noise only here and there: at each step
    of the lattice where no line was found, the band the lattice says a line runs in, among
    the pixels above `_FAINT_LINES` of the paper's threshold, when it covers most of the
    picture; so that the grid's pieces are not left as crumbs."""
    known = _on([line for line in lines if line.axis == axis], lattice)
    origin, spacing = lattice
    extent, length = ink.shape[1 - axis], ink.shape[axis]
    first = int(np.ceil((_BAND_HALF - origin) / spacing))
    last = int(np.floor((extent - 1 - _BAND_HALF - origin) / spacing))
    found = {round((line.position - origin) / spacing) for line in known}
    missing = [k for k in range(first, last + 1) if k not in found]
    if not missing:
        return []
    faint = mask | ((ink > _FAINT_LINES * threshold) & (ink <= threshold))
    ys, xs = coordinates(faint)
    along, across = (xs, ys) if axis == 1 else (ys, xs)
    tilt = float(np.median([line.tilt for line in known]))
    # Across the picture's middle, as a line's position is measured.
    level_across = across + tilt * (along - length / 2)
    more = []
    for k in missing:
        near = np.abs(level_across - (origin + k * spacing)) <= _BAND_HALF
        if np.count_nonzero(np.bincount(along[near], minlength=length)) >= _LINE_COVER * length:
            line = _Line(ys[near], xs[near], axis, tilt, why="ruled or squared paper")
            _measure(line, ink)
            more.append(line)
    return more


def _alike(lines: list[_Line]) -> list[_Line]:
    """The largest set of lines within `_ALIKE` of each other's weight (the lighter set on a
    tie: the paper's lines are lighter than the pen)."""
    ordered = sorted(lines, key=lambda line: line.weight)
    best: list[_Line] = []
    for i, first in enumerate(ordered):
        group = [line for line in ordered[i:] if line.weight <= _ALIKE * first.weight]
        if len(group) > len(best):
            best = group
    return best


def _lattice(lines: list[_Line]) -> tuple[float, float] | None:
    """The evenly spaced lattice (origin, spacing) that holds most of two or more lines, the
    widest spacing among those that hold as many (a gap may skip lines the search missed, so
    spacings are tried as whole fractions of each gap); every line is tried as the origin."""
    if len(lines) < 2:
        return None
    positions = np.sort([line.position for line in lines])
    spacings = np.unique(np.diff(positions)[:, None] / np.arange(1, _MOST_SKIPPED + 2))[::-1]
    spacings = spacings[spacings > _SAME_BAND]
    if spacings.size == 0:
        return None
    steps = (positions[None, None, :] - positions[None, :, None]) / spacings[:, None, None]
    nearest = np.round(steps)
    # Lines on the lattice, one a step: count the distinct steps held.
    off = np.abs(steps - nearest) > _ON_LATTICE
    held = np.where(off, _OFF_LATTICE, nearest)
    held.sort(axis=-1)
    on = held < _OFF_LATTICE
    counts = on[..., 0] + np.count_nonzero((np.diff(held, axis=-1) != 0) & on[..., 1:], axis=-1)
    best = np.unravel_index(np.argmax(counts), counts.shape)  # the widest spacing first
    if counts[best] < 2:
        return None
    return float(positions[best[1]]), float(spacings[best[0]])


def _on(lines: list[_Line], lattice: tuple[float, float]) -> list[_Line]:
    """The lines on the lattice (origin, spacing): within `_ON_LATTICE` of a whole number of
    spacings from its origin, one line a step."""
    origin, spacing = lattice
    nearest: dict[int, tuple[float, _Line]] = {}
    for line in lines:
        step = (line.position - origin) / spacing
        off = abs(step - round(step))
        if off <= _ON_LATTICE and off < nearest.get(round(step), (1.0, line))[0]:
            nearest[round(step)] = (off, line)
    return [line for _, line in nearest.values()]


def _find_edges(lines: list[_Line], shape: tuple[int, ...]) -> None:
    """Mark the bands lying along the picture's border: the paper's edge, or the table or the
    shadow beyond it."""
    for line in lines:
        if line.why:
            continue
        across, extent = line.across, shape[0] if line.axis == 1 else shape[1]
        near = (across < _EDGE) | (across >= extent - _EDGE)
        if np.count_nonzero(near) >= 0.5 * across.size:
            line.why = "the paper's edge"


def _judge_lone_lines(lines: list[_Line], digit: np.ndarray, pen: float, ink: np.ndarray) -> None:
    """Mark the lone bands that are not the digit's: those lighter than the pen that reach
    past the digit at both ends, and those of the pen's weight that also touch no part of
    it."""
    lone = [line for line in lines if not line.why]
    if not lone:
        return
    digit = digit.copy()
    strokes = [line for line in lone if line.weight >= _PEN_LIKE * pen]
    # The digit's own straight strokes join it one after another (a 7's stem, then its bar).
    attached: list[_Line] = []
    grew = True
    while grew:
        grew = False
        near = grow(digit, _TOUCH)
        for line in strokes:
            if line not in attached and near[line.ys, line.xs].any():
                attached.append(line)
                digit[line.ys, line.xs] = True
                grew = True
    for line in lone:
        beyond = _beyond(line, digit)
        if line in attached or beyond is None:
            continue
        if line in strokes:
            line.why = "a rule or a frame's side apart from the digit"
        else:
            line.why = "a line lighter than the pen across the page"
            # What the line alone darkens, read where it runs clear of the digit.
            line.level = _line_level(
                ink[line.ys[beyond], line.xs[beyond]], line.along[beyond], line.offset[beyond]
            )


def _pen_weight(parts: Components) -> float:
    """The pen's ink per position along a stroke: over the heavy pieces, their ink over the
    runs of ink along their rows and columns (a stroke's length, give or take its slant)."""
    heavy = parts.mass >= 0.25 * float(parts.mass.max())
    return float(np.median(parts.stroke[heavy])) / 2


def _beyond(line: _Line, digit: np.ndarray) -> np.ndarray | None:
    """Where a line runs beyond the digit's other ink (a flag per pixel), when it reaches
    clearly past it at both ends, as a line across the paper does: at each end beyond it by
    a twentieth of the picture, and on to the picture's edge or by a quarter of the digit's
    own extent. A stroke of the digit ends about where the digit does."""
    others = digit.copy()
    others[line.ys, line.xs] = False
    ys, xs = coordinates(others)
    if ys.size == 0:
        return None
    others_along = xs if line.axis == 1 else ys
    extent = digit.shape[line.axis]
    low, high = quantile(others_along, 0.02), quantile(others_along, 0.98)
    margin = max(_PAST_MARGIN * extent, _PAST_SHARE * (high - low))
    first, last = int(line.along.min()), int(line.along.max())
    reaches_low = low - first >= margin or (first < _EDGE and low - first >= _PAST_MARGIN * extent)
    reaches_high = last - high >= margin or (
        last >= extent - _EDGE and last - high >= _PAST_MARGIN * extent
    )
    if not (reaches_low and reaches_high):
        return None
    return (line.along < low) | (line.along > high)


def _take_out(
    removed: list[_Line],
    mask: np.ndarray,
    ink: np.ndarray,
    threshold: float,
    digit: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Divide each removed line's level out of its pixels (a family's common level for ruled
    or squared paper), keep what the pen added, and bridge the strokes the lines cut (the
    `digit`'s, where it is known)."""
    ruled = [line for line in removed if _ruled(line)]
    family_level = {
        axis: _family_level([line for line in ruled if line.axis == axis], ink)
        for axis in {line.axis for line in ruled}
    }
    levels = [family_level[line.axis] if _ruled(line) else line.level_in(ink) for line in removed]
    cleared, ink = mask.copy(), ink.copy()
    cut = np.zeros_like(mask)
    for line, level in zip(removed, levels, strict=True):
        values = ink[line.ys, line.xs]
        corrected = np.maximum(1.0 - (1.0 - values) / (1.0 - level), 0.0)
        ink[line.ys, line.xs] = corrected
        kept = corrected >= max(level, threshold)
        cleared[line.ys, line.xs] = kept
        cut[line.ys[~kept], line.xs[~kept]] = True
    # A stroke crossing a line at a slant leaves its two ends offset along the line: a disk
    # closes the gap whatever the angle, where ink lies on both sides (a closing adds nothing
    # beside a stroke that runs along the line alone); only near the digit.
    near = cut & grow(cleared, _BRIDGE)
    if digit is not None and digit.any():
        rows, cols = bounding_box(digit)
        beside = np.zeros_like(near)
        beside[
            max(rows.start - _BRIDGE, 0) : rows.stop + _BRIDGE,
            max(cols.start - _BRIDGE, 0) : cols.stop + _BRIDGE,
        ] = True
        near &= beside
    if near.any():
        rows, cols = bounding_box(near)
        box = (
            slice(max(rows.start - 2 * _BRIDGE, 0), rows.stop + 2 * _BRIDGE),
            slice(max(cols.start - 2 * _BRIDGE, 0), cols.stop + 2 * _BRIDGE),
        )
        around = cleared[box].astype(np.float32)
        closed = disk_erosion(disk_dilation(around, _BRIDGE), _BRIDGE) > 0.5
        cleared[box] |= near[box] & closed
    return cleared, ink


def _ruled(line: _Line) -> bool:
    return line.why == "ruled or squared paper"


def _said(removed: list[_Line]) -> list[str]:
    """One sentence per kind of line taken out, with where the lines were."""
    sentences = []
    for why in dict.fromkeys(line.why for line in removed):
        these = [line for line in removed if line.why == why]
        where = ", ".join(
            f"{'row' if line.axis == 1 else 'column'} {line.position:.0f}" for line in these
        )
        sentences.append(f"{why}: {len(these)} line{'s' * (len(these) > 1)} at {where}")
    return sentences


def _lines_along(
    mask: np.ndarray, slope: float | None = None
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The pixels (rows, columns) of each near-horizontal thin straight line covering most of
    the width, and the slope it was found at (its rows fall by it a column), searched for
    unless given.

    A 3-pixel band counts as a line when it covers 60% of the columns and, at most of them,
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
        lines = np.flatnonzero(covered >= _LINE_COVER * width)
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
        if np.count_nonzero(np.bincount(xs, minlength=width)) < _LINE_COVER * width:
            break  # what is left cannot hold a line
    return result


def _may_hold_lines(mask: np.ndarray) -> bool:
    """Whether ink reaches enough of the columns for a near-horizontal line: a projection
    test that spares most pages the search for lines."""
    width = mask.shape[1]
    return width >= _LINE_MIN_IMAGE and mask.any(axis=0).sum() >= _LINE_COVER * width


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
