"""Stage 3, lines: the paper's own lines taken out, and nothing the pen drew.

The thin straight bands across most of the picture are found (`bands`) and judged (`paper_lines`):
ruled or squared paper, the paper's edge, a rule apart from the digit. The ink level of each
line taken out is divided out of its pixels as the paper's was (a family's common level for
ruled or squared paper), so a pen stroke along or across one keeps the ink the pen added;
strokes crossing a line the division cut are bridged.
"""

from __future__ import annotations

import numpy as np

from model.serving.photo.bands import Line, find_lines, line_level
from model.serving.photo.imageops import bounding_box, disk_dilation, disk_erosion, grow, label
from model.serving.photo.paper_lines import (
    FAINT_LINES,
    FAINTER_THAN_PEN,
    RULED,
    DigitBesideLines,
    faint_lines_of,
    find_edges,
    find_families,
    judge_lone_lines,
)

_MIN_REST = 15
"""With fewer pixels than this besides the lines..."""

_MIN_REST_SHARE = 0.01
"""...or than this share of the mask's, the lines are all there is: the digit."""

_BRIDGE = 3
"""Strokes cut by a removed line are bridged by a closing with a disk of this radius."""

FAINT_GRID = "a faint grid"
"""What `take_out_faint_grid` says it took out."""

_ON_GRID = 0.9
"""A piece with at least this share of its pixels on a faint grid's lines, and fainter than the
pen (`FAINTER_THAN_PEN` of the page's darkest ink), is the grid's, once its level is divided
out."""


def remove_lines(
    mask: np.ndarray, ink: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, list[str], frozenset[int]]:
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
    mask, ink, removed, ruled_axes
        The mask without the lines, the ink with them divided out, a sentence for each kind of
        line taken out (for debugging), and the axes on which ruled or squared paper's lines
        were found (`Line.axis`).
    """
    lines = find_lines(mask, ink)
    if not lines:
        return mask, ink, [], frozenset()
    rest = mask.copy()
    for line in lines:
        rest[line.ys, line.xs] = False
    # Besides the lines, too little ink to tell the digit from them: the lines are the digit.
    enough = np.count_nonzero(rest) >= max(_MIN_REST, _MIN_REST_SHARE * np.count_nonzero(mask))
    digit = DigitBesideLines(ink, rest if enough else None)
    lattices = find_families(lines, digit)
    for axis, lattice in lattices.items():
        lines += faint_lines_of(lattice, axis, lines, mask, ink, threshold)
    find_edges(lines, mask.shape)
    if any(not line.why for line in lines) and digit.mask is not None:
        judge_lone_lines(lines, digit.mask, digit.pen, ink)
    removed = [line for line in lines if line.why]
    if not removed:
        return mask, ink, [], frozenset()
    cleared, ink = _take_out(removed, mask, ink, threshold, digit.mask)
    return cleared, ink, _said(removed), frozenset(lattices)


def take_out_faint_grid(
    mask: np.ndarray, ink: np.ndarray, cleaned: np.ndarray, threshold: float, ruled: frozenset[int]
) -> tuple[np.ndarray, np.ndarray, list[str], frozenset[int]]:
    """`mask` and `cleaned` without a grid too faint to show as lines above the paper's noise
    but in pieces, a sentence saying so (none when there is no such grid), and the axes of
    the grid's families.

    The grid's lines are looked for in the ink map as photographed (`ink`) among the pixels
    above `FAINT_LINES` of the paper's `threshold` too, as a family's missing lines are. Where
    they make a family on an axis where none showed before (not in `ruled`: where one showed,
    its lines were divided out already), its level is divided out of `cleaned` (the ink map
    with the paper's lines found before divided out) as ruled paper's is, which takes the
    grid's pixels out of the pieces of ink they touch and leaves the pen's; then a piece lying
    on the grid's lines almost wholly, and fainter than the pen, is the grid's. So squared
    paper is cleaned whole where only one of its families showed as lines."""
    lines = find_lines(mask | (ink > FAINT_LINES * threshold), ink)
    families = find_families(lines, DigitBesideLines(ink, None))
    if not families:
        return mask, cleaned, [], ruled
    grid = [line for line in lines if _ruled(line)]
    faint = [line for line in grid if line.axis not in ruled]
    if faint:
        # Not bridged: on a page of several digits, a closing along a line written on would
        # join neighbours.
        mask, cleaned, _ = _divide_out(faint, mask, cleaned, threshold)
    on_lines = np.zeros_like(mask)
    for line in grid:
        on_lines[line.ys, line.xs] = True
    labels, count, _ = label(mask)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)
    on = np.bincount(labels[on_lines], minlength=count + 1)
    peak = np.zeros(count + 1, cleaned.dtype)
    np.maximum.at(peak, labels[mask], cleaned[mask])
    pieces = (on >= _ON_GRID * pixels) & (peak < FAINTER_THAN_PEN * peak.max())
    pieces[0] = False
    if not faint and not pieces.any():
        return mask, cleaned, [], ruled
    said = f"{FAINT_GRID}: {len(faint)} lines divided out, {np.count_nonzero(pieces)} pieces"
    return mask & ~pieces[labels], cleaned, [said], ruled | families.keys()


def _take_out(
    removed: list[Line],
    mask: np.ndarray,
    ink: np.ndarray,
    threshold: float,
    digit: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Divide each removed line's level out of its pixels (`_divide_out`) and bridge the
    strokes the lines cut (the `digit`'s, where it is known)."""
    cleared, ink, cut = _divide_out(removed, mask, ink, threshold)
    near = cut & grow(cleared, _BRIDGE)
    if digit is not None and digit.any():
        beside = np.zeros_like(near)
        beside[bounding_box(digit).grown(_BRIDGE).slices] = True
        near &= beside
    _bridge(cleared, ink, near)
    return cleared, ink


def _divide_out(
    removed: list[Line], mask: np.ndarray, ink: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`mask` and `ink` with each removed line's level divided out of its core (a family's
    common level for ruled or squared paper), keeping what the pen added, and the pixels
    that were cut."""
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
        divided = np.maximum(1.0 - (1.0 - values) / (1.0 - level), 0.0)
        corrected = np.where(line.core, divided, values)
        ink[line.ys, line.xs] = corrected
        kept = corrected >= max(level, threshold)
        cleared[line.ys, line.xs] = kept
        cut[line.ys[~kept], line.xs[~kept]] = True
    return cleared, ink, cut


def _bridge(cleared: np.ndarray, ink: np.ndarray, near: np.ndarray) -> None:
    """Bridge, in place, the cut pixels `near` the kept ink where ink lies on both sides.

    A stroke crossing a line at a slant leaves its two ends offset along the line: a disk
    closes the gap whatever the angle (a closing adds nothing beside a stroke that runs
    along the line alone). A bridged pixel takes the pen's ink from both sides of the gap
    (the closing of the kept ink), so that the stroke comes out as dark across the line as
    along it."""
    if not near.any():
        return
    box = bounding_box(near).grown(2 * _BRIDGE).slices
    kept_ink = np.where(cleared[box], ink[box], 0.0)
    closed = disk_erosion(disk_dilation(kept_ink, _BRIDGE), _BRIDGE)
    bridged = near[box] & (closed > 0.0)
    cleared[box] |= bridged
    ink[box] = np.where(bridged, np.maximum(ink[box], closed), ink[box])


def _ruled(line: Line) -> bool:
    return line.why == RULED


def _said(removed: list[Line]) -> list[str]:
    """One sentence per kind of line taken out, with where the lines were."""
    sentences = []
    for why in dict.fromkeys(line.why for line in removed):
        these = [line for line in removed if line.why == why]
        where = ", ".join(
            f"{'row' if line.axis == 1 else 'column'} {line.position:.0f}" for line in these
        )
        sentences.append(f"{why}: {len(these)} line{'s' * (len(these) > 1)} at {where}")
    return sentences


def _family_level(lines: list[Line], ink: np.ndarray) -> float:
    """What a family's lines alone darken, read over all of them at once (the paper's lines
    were printed alike): each line's positions are numbered after the previous line's."""
    values = np.concatenate([ink[line.ys, line.xs] for line in lines])
    starts = np.cumsum([0] + [line.span[1] + 1 for line in lines[:-1]])
    along = np.concatenate([line.along + start for line, start in zip(lines, starts, strict=True)])
    offset = np.concatenate([line.offset for line in lines])
    return line_level(values, along, offset)
