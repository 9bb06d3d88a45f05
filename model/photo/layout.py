"""Stage 5, for a page of several digits: which pieces of ink make which digit, in reading order.

The pieces of one digit (the top bar of a 5, an open 4, a 7's bar, a broken pencil stroke) lie
one above the other or inside each other's box; separate digits stand side by side. The size
of a digit is the page's own: the median height of its large pieces. Digits that touch make
one piece as wide as two; it is cut where a thin neck joins them, and said to touch otherwise.
Lines of writing are read top to bottom, each left to right, following its slant.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from model.photo.components import Components


class Group(NamedTuple):
    """One digit's ink on the page."""

    box: tuple[slice, slice]
    """Its rows and columns in the ink map."""
    mask: np.ndarray
    """Its pixels within `box`, bool."""
    touching: bool
    """It seems to hold digits that touch and could not be cut apart."""


def group_digits(parts: Components) -> tuple[list[Group], list[str]]:
    """The digits among `parts`, in reading order, and what was left out (for debugging).

    Parameters
    ----------
    parts : Components
        The cleaned page's pieces of ink (`digits.clean_page`).
    """
    ignored: list[str] = []
    keep = np.flatnonzero(parts.substantial)
    if keep.size == 0:
        return [], ignored
    box, mass = parts.box, parts.mass
    large = keep[mass[keep] >= 0.25 * mass[keep].max()]
    tall = box[large, 1] - box[large, 0]
    unit = float(np.median(tall[tall >= 0.5 * tall.max()]))
    pen = float(np.median(parts.strength[large]))
    height, width = box[:, 1] - box[:, 0], box[:, 3] - box[:, 2]
    stub = parts.touches & ((np.minimum(height, width) <= _THIN * unit) | (height > 6 * width))
    # Small faint pieces are the grid's, whatever they lie next to; a faint piece as heavy as
    # a stroke may be the pencil's, and is judged with the digit it joins.
    crumb = (parts.strength < _FAINT * pen) & (mass < _CRUMB * mass[keep].max())
    for i in keep[(stub | crumb)[keep]]:
        why = "a line's end at the border" if stub[i] else "faint (a grid's remnant)"
        ignored.append(f"{why} at rows {box[i, 0]:.0f}-{box[i, 1]:.0f}")
    keep = keep[~(stub | crumb)[keep]]
    if keep.size == 0:
        return [], ignored
    groups = _merge_pieces(box[keep].copy(), [[int(i)] for i in keep], unit)
    found: list[tuple[np.ndarray, list[int]]] = []
    for members in groups:
        union = np.array(
            [
                box[members, 0].min(),
                box[members, 1].max(),
                box[members, 2].min(),
                box[members, 3].max(),
            ]
        )
        height, width = union[1] - union[0], union[3] - union[2]
        strength = mass[members].sum() / max(int(parts.pixels[members].sum()), 1)
        if strength < _FAINT * pen:
            ignored.append(f"faint (a grid's remnant) at rows {union[0]:.0f}-{union[1]:.0f}")
            continue
        if max(height, width) < _SPECK * unit:
            ignored.append(f"speck at rows {union[0]:.0f}-{union[1]:.0f}")
            continue
        if height > _TALLEST * unit or (parts.touches[members].any() and width > 4 * unit):
            ignored.append(f"not a digit (too large) at rows {union[0]:.0f}-{union[1]:.0f}")
            continue
        found.append((union, members))
    groups_out = [
        cut
        for union, members in found
        for cut in _split_touching(parts, union, members, unit)
        if cut.box[0].stop - cut.box[0].start >= _SPECK * unit
    ]
    return _reading_order(_not_clutter(groups_out, parts.shape, unit, ignored), unit), ignored


def _not_clutter(
    groups: list[Group], shape: tuple[int, ...], unit: float, ignored: list[str]
) -> list[Group]:
    """Leave out what the pen did not write though it is dark enough: a grid's cell or a frame
    (ink all along its box's edges), a shadow or the table at the picture's edge (a solid
    patch touching it), and, beside digits, stray bits with a fraction of a digit's ink."""
    if len(groups) < 2:
        return groups
    pixels = np.array([np.count_nonzero(g.mask) for g in groups])
    typical = float(np.median(np.sort(pixels)[len(pixels) // 2 :]))
    kept = []
    for group, count in zip(groups, pixels, strict=True):
        rows, cols = group.box
        edge = group.mask.copy()
        edge[2:-2, 2:-2] = False
        at_border = rows.start == 0 or cols.start == 0 or rows.stop == shape[0]
        at_border = at_border or cols.stop == shape[1]
        small_box = min(group.mask.shape) < max(_CELL * unit, 8)
        if not small_box and np.count_nonzero(edge) > _EDGES * count:
            why = "a grid's cell or a frame"
        elif at_border and group.mask.mean() > _SOLID:
            why = "a shadow or the table at the edge"
        elif count < _STRAY * typical:
            why = "too little ink beside the digits"
        else:
            kept.append(group)
            continue
        ignored.append(f"{why} at rows {rows.start}-{rows.stop}")
    return kept


def _merge_pieces(boxes: np.ndarray, groups: list[list[int]], unit: float) -> list[list[int]]:
    """Join pieces into digits, closest pair first, while the union stays one digit: pieces
    one above the other (a 5's bar, a broken stroke) or side by side with hardly a gap (an
    open 4's stem), as long as the whole is no wider than a digit is tall.

    `boxes` (top, bottom, left, right) are the groups' boxes, one row each.
    """
    while len(groups) > 1:
        top = np.minimum(boxes[:, None, 0], boxes[None, :, 0])
        bottom = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
        left = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
        right = np.maximum(boxes[:, None, 3], boxes[None, :, 3])
        height, width = bottom - top, right - left
        heights = boxes[:, 1] - boxes[:, 0]
        widths = boxes[:, 3] - boxes[:, 2]
        gap_y = np.maximum(height - heights[:, None] - heights[None, :], 0.0)
        gap_x = np.maximum(width - widths[:, None] - widths[None, :], 0.0)
        overlap = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(
            boxes[:, None, 2], boxes[None, :, 2]
        )
        narrower = np.maximum(np.minimum(widths[:, None], widths[None, :]), 1.0)
        stacked = (overlap >= _OVERLAP * narrower) & (gap_y <= _GAP * unit)
        beside = (gap_y == 0) & (gap_x <= _BESIDE * height)
        bigger = np.maximum(np.maximum(heights[:, None], heights[None, :]), unit)
        tall_enough = height <= _TALLEST_UNION * bigger
        fits = (stacked & (width <= _WIDEST_STACK * height)) | (width <= _WIDEST_UNION * height)
        one = tall_enough & fits
        gap = np.where((stacked | beside) & one, np.maximum(gap_x, gap_y), np.inf)
        np.fill_diagonal(gap, np.inf)
        i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
        if not np.isfinite(gap[i, j]):
            break
        i, j = min(i, j), max(i, j)
        boxes[i] = (top[i, j], bottom[i, j], left[i, j], right[i, j])
        groups[i] = groups[i] + groups[j]
        boxes = np.delete(boxes, j, axis=0)
        del groups[j]
    return groups


def _split_touching(
    parts: Components, union: np.ndarray, members: list[int], unit: float
) -> list[Group]:
    """The group as one digit, or cut where a thin neck joins two touching digits."""
    top, bottom, left, right = (int(v) for v in union)
    chosen = np.zeros(parts.count, bool)
    chosen[members] = True
    mask = parts.mask_of(chosen)[top:bottom, left:right]
    width = right - left
    if width <= _WIDE * unit:
        return [Group((slice(top, bottom), slice(left, right)), mask, False)]
    columns = mask.sum(axis=0)
    pieces = max(2, round(width / unit))
    cuts = []
    for k in range(1, pieces):
        centre = round(k * width / pieces)
        lo, hi = max(1, centre - int(0.25 * unit)), min(width - 1, centre + int(0.25 * unit))
        if hi <= lo:
            continue
        at = lo + int(np.argmin(columns[lo:hi]))
        if columns[at] <= _NECK * unit:
            cuts.append(at)
    if not cuts:
        return [Group((slice(top, bottom), slice(left, right)), mask, True)]
    result = []
    for a, b in zip([0, *cuts], [*cuts, width], strict=True):
        piece = mask[:, a:b]
        rows = np.flatnonzero(piece.any(axis=1))
        if rows.size == 0:
            continue
        sub = piece[rows[0] : rows[-1] + 1]
        box = (slice(top + int(rows[0]), top + int(rows[-1]) + 1), slice(left + a, left + b))
        result.append(Group(box, sub, (b - a) > _WIDE * unit))
    return result


def _reading_order(groups: list[Group], unit: float) -> list[Group]:
    """Lines top to bottom, each left to right. A digit joins the line whose course (its
    members' centres, fitted by a straight line once it has two) passes nearest its centre,
    within half a digit's height."""
    centres = [
        ((g.box[0].start + g.box[0].stop) / 2, (g.box[1].start + g.box[1].stop) / 2) for g in groups
    ]
    lines: list[list[int]] = []
    for i in sorted(range(len(groups)), key=lambda i: centres[i][1]):
        y, x = centres[i]
        best, best_distance = None, _SAME_LINE * unit
        for n, line in enumerate(lines):
            distance = abs(y - _course(line, centres, x))
            if distance <= best_distance:
                best, best_distance = n, distance
        if best is None:
            lines.append([i])
        else:
            lines[best].append(i)
    lines.sort(key=lambda line: float(np.mean([centres[i][0] for i in line])))
    return [groups[i] for line in lines for i in sorted(line, key=lambda i: centres[i][1])]


def _course(line: list[int], centres: list[tuple[float, float]], x: float) -> float:
    """Where a line of writing passes at column `x`."""
    ys = np.array([centres[i][0] for i in line])
    xs = np.array([centres[i][1] for i in line])
    if len(line) < 2 or np.ptp(xs) == 0:
        return float(ys[-1])
    slope = float(np.clip(np.polyfit(xs, ys, 1)[0], -0.5, 0.5))
    return float(ys[-1] + slope * (x - xs[-1]))


_SPECK = 0.3
"""A group smaller than this share of a digit's height is a speck."""
_TALLEST = 2.2
"""A piece taller than this many digits is not one (a line, a margin, a shadow's edge)."""
_OVERLAP = 0.3
_GAP = 0.35
_BESIDE = 0.12
"""Pieces side by side join when the gap between them is under this share of their height."""
_TALLEST_UNION = 1.8
"""A digit's pieces stack to at most this many times the taller one (or a digit)."""
_WIDEST_UNION = 1.15
"""No digit is much wider than it is tall; two side by side are."""
_WIDEST_STACK = 1.5
"""Pieces one above the other (a wide 5's bar over its body) may make a wider digit."""
_WIDE = 1.25
"""A group wider than this many digit heights holds digits that touch."""
_NECK = 0.08
_FAINT = 0.65
"""A group whose mean ink is below this share of the pen's is the paper's clutter (a grid's
remnants are about half as dark as the pen)."""
_THIN = 0.12
_CRUMB = 0.1
_SAME_LINE = 0.6
_EDGES = 0.8
_CELL = 0.5
"""A grid's cell is at least this many digits wide and tall (a 1 is narrower)."""
_SOLID = 0.5
_STRAY = 0.15
