"""Stage 3, lines, part two: which of the bands (`bands.find_lines`) are the paper's.

- ruled or squared paper: a family of parallel lines printed alike, evenly spaced, and the
  faint lines of its lattice that rise above the paper's noise only here and there;
- the paper's edge: a band along the picture's border;
- otherwise, a band on its own. A band of the pen's own weight is the digit's stroke (the
  stem of a 1, the bar of a 4 or of a 7, the base of a 2 written close up), however long it
  is, unless it touches no part of the digit and reaches past it at both ends (a rule or a
  frame's side apart from the digit). A band much lighter than the pen (a single ruled line,
  a printed rule) is the paper's when it reaches past the digit at both ends, and is a
  lightly drawn stroke of the digit otherwise.

Each band taken for the paper's says why in its `why`.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from model.serving.photo.bands import LINE_COVER, SAME_BAND, Line, line_level, measure
from model.serving.photo.components import Components
from model.serving.photo.imageops import coordinates, grow, quantile

RULED = "ruled or squared paper"
"""Why the lines of a family are taken out."""

_BAND_HALF = 2.5
"""A faint line of a family is looked for within this many pixels of where its lattice puts
it."""

FAINT_LINES = 0.5
"""A family's faint lines are looked for among the pixels above this share of the paper's
noise threshold."""

FAINTER_THAN_PEN = 0.75
"""A grid's pieces have no dark core: their darkest ink stays below this share of the pen's,
which a stroke's core reaches, however thin."""

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
"""A pixel this close to the picture's border lies at it."""

_AT_EDGE = 0.5
"""A band with at least this share of its pixels at the picture's border is the paper's edge."""

_HEAVY = 0.25
"""The pen's weight is read on the pieces with at least this share of the heaviest one's ink."""

_DIGIT_ENDS = 0.02
"""Along a line, the digit's other ink spans from this quantile of its positions to one minus
it: a stray pixel does not stretch it."""

_PAST_MARGIN = 0.05
"""A line across the page reaches past the digit by this share of the picture at each end,"""

_PAST_SHARE = 0.25
"""and by this share of the digit's own extent, unless it runs on to the picture's edge."""

_TOUCH = 2
"""A band within this many pixels of the digit touches it."""


class DigitBesideLines:
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


def find_families(lines: list[Line], digit: DigitBesideLines) -> dict[int, tuple[float, float]]:
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
            line.why = RULED
    return lattices


def faint_lines_of(
    lattice: tuple[float, float],
    axis: int,
    lines: list[Line],
    mask: np.ndarray,
    ink: np.ndarray,
    threshold: float,
) -> list[Line]:
    """The family's lines that rise above the paper's noise only here and there: at each step
    of the lattice where no line was found, the band the lattice says a line runs in, among
    the pixels above `FAINT_LINES` of the paper's threshold, when it covers most of the
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
    faint = mask | ((ink > FAINT_LINES * threshold) & (ink <= threshold))
    ys, xs = coordinates(faint)
    along, across = (xs, ys) if axis == 1 else (ys, xs)
    tilt = float(np.median([line.tilt for line in known]))
    # Across the picture's middle, as a line's position is measured.
    level_across = across + tilt * (along - length / 2)
    more = []
    for k in missing:
        near = np.abs(level_across - (origin + k * spacing)) <= _BAND_HALF
        if np.count_nonzero(np.bincount(along[near], minlength=length)) >= LINE_COVER * length:
            line = Line(ys[near], xs[near], axis, tilt, why=RULED)
            measure(line, ink)
            more.append(line)
    return more


def _alike(lines: list[Line]) -> list[Line]:
    """The largest set of lines within `_ALIKE` of each other's weight (the lighter set on a
    tie: the paper's lines are lighter than the pen)."""
    ordered = sorted(lines, key=lambda line: line.weight)
    best: list[Line] = []
    for i, first in enumerate(ordered):
        group = [line for line in ordered[i:] if line.weight <= _ALIKE * first.weight]
        if len(group) > len(best):
            best = group
    return best


def _lattice(lines: list[Line]) -> tuple[float, float] | None:
    """The evenly spaced lattice (origin, spacing) that holds most of two or more lines, the
    widest spacing among those that hold as many (a gap may skip lines the search missed, so
    spacings are tried as whole fractions of each gap); every line is tried as the origin."""
    if len(lines) < 2:
        return None
    positions = np.sort([line.position for line in lines])
    spacings = np.unique(np.diff(positions)[:, None] / np.arange(1, _MOST_SKIPPED + 2))[::-1]
    spacings = spacings[spacings > SAME_BAND]
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


def _on(lines: list[Line], lattice: tuple[float, float]) -> list[Line]:
    """The lines on the lattice (origin, spacing): within `_ON_LATTICE` of a whole number of
    spacings from its origin, one line a step."""
    origin, spacing = lattice
    nearest: dict[int, tuple[float, Line]] = {}
    for line in lines:
        step = (line.position - origin) / spacing
        off = abs(step - round(step))
        if off <= _ON_LATTICE and off < nearest.get(round(step), (1.0, line))[0]:
            nearest[round(step)] = (off, line)
    return [line for _, line in nearest.values()]


def find_edges(lines: list[Line], shape: tuple[int, ...]) -> None:
    """Mark the bands lying along the picture's border: the paper's edge, or the table or the
    shadow beyond it."""
    for line in lines:
        if line.why:
            continue
        across, extent = line.across, shape[0] if line.axis == 1 else shape[1]
        near = (across < _EDGE) | (across >= extent - _EDGE)
        if np.count_nonzero(near) >= _AT_EDGE * across.size:
            line.why = "the paper's edge"


def judge_lone_lines(lines: list[Line], digit: np.ndarray, pen: float, ink: np.ndarray) -> None:
    """Mark the lone bands that are not the digit's: those lighter than the pen that reach
    past the digit at both ends, and those of the pen's weight that also touch no part of
    it."""
    lone = [line for line in lines if not line.why]
    if not lone:
        return
    digit = digit.copy()
    strokes = [line for line in lone if line.weight >= _PEN_LIKE * pen]
    # The digit's own straight strokes join it one after another (a 7's stem, then its bar).
    attached: list[Line] = []
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
            line.level = line_level(
                ink[line.ys[beyond], line.xs[beyond]], line.along[beyond], line.offset[beyond]
            )


def _pen_weight(parts: Components) -> float:
    """The pen's ink per position along a stroke: over the heavy pieces, their ink over the
    runs of ink along their rows and columns (a stroke's length, give or take its slant)."""
    heavy = parts.mass >= _HEAVY * float(parts.mass.max())
    return float(np.median(parts.stroke[heavy])) / 2


def _beyond(line: Line, digit: np.ndarray) -> np.ndarray | None:
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
    low, high = quantile(others_along, _DIGIT_ENDS), quantile(others_along, 1 - _DIGIT_ENDS)
    margin = max(_PAST_MARGIN * extent, _PAST_SHARE * (high - low))
    first, last = int(line.along.min()), int(line.along.max())
    reaches_low = low - first >= margin or (first < _EDGE and low - first >= _PAST_MARGIN * extent)
    reaches_high = last - high >= margin or (
        last >= extent - _EDGE and last - high >= _PAST_MARGIN * extent
    )
    if not (reaches_low and reaches_high):
        return None
    return (line.along < low) | (line.along > high)
