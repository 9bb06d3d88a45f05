"""Stage 5, for a page of several digits: which pieces of ink make which digit, in reading order.

The pieces of one digit (the top bar of a 5, an open 4, a 7's bar, a broken pencil stroke) lie
one above the other or inside each other's box; separate digits stand side by side. The size
of a digit is the page's own: the median height of its large pieces. Digits that touch make
one piece as wide as two; it is cut where a thin neck joins them, and said to touch otherwise.
Lines of writing are read top to bottom, each left to right, following its slant. A form's
printed labels are left out where their stroke and size tell them from the handwriting.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from model.serving.photo.box import Box
from model.serving.photo.components import Components
from model.serving.photo.paper_lines import FAINTER_THAN_PEN

_SPECK = 0.3
"""A group smaller than this share of a digit's height is a speck."""

_TALLEST = 2.2
"""A piece taller than this many digits is not one (a line, a margin, a shadow's edge)."""

_WIDEST_AT_BORDER = 4
"""A group at the picture's border wider than this many digits is not one (a table, a shadow)."""

_HEAVY = 0.25
"""A piece with at least this share of the heaviest one's ink is heavy: a digit's, not a speck's."""

_SIZING = 0.5
"""A digit's size is read on the heavy pieces at least this share of the tallest of them."""

_OVERLAP = 0.3
"""Pieces one above the other join when their columns overlap by this share of the narrower..."""

_GAP = 0.35
"""...and the gap between them is under this share of a digit."""

_BESIDE = 0.12
"""Pieces side by side join when the gap between them is under this share of their height."""

_TALLEST_UNION = 1.8
"""A digit's pieces stack to at most this many times the taller one (or a digit)."""

_WIDEST_BESIDE = 1.0
"""Pieces side by side (an open 4's arm and stem) make a digit no wider than it is tall; a
narrow digit written close beside another makes a wider whole."""

_WIDEST_STACK = 1.5
"""Pieces one above the other (a wide 5's bar over its body) may make a wider digit."""

_FLAT = 0.4
"""A piece this flat (a 5's bar, a 7's) is no digit alone: it joins a piece whose columns it
reaches, as one above the other."""

_WIDE = 1.25
"""A group wider than this many digit heights holds digits that touch."""

_NECK = 0.08
"""A group too wide for one digit is cut where its ink is this share of a digit thick..."""

_NECK_SEARCH = 0.25
"""...looked for within this share of a digit of where digits of equal width would meet."""

_FAINT = 0.65
"""A group whose mean ink is below this share of the pen's is the paper's clutter (a grid's
remnants are about half as dark as the pen), unless its darkest ink reaches `FAINTER_THAN_PEN`
of the pen's: a thin stroke's core does."""

_THIN = 0.12
"""A piece at the picture's border at most this share of a digit thin is a stub (of the paper's
edge, of a line)..."""

_STUB_TALL = 6
"""...and so is one taller than this many times its width."""

_CRUMB = 0.1
"""A faint piece lighter than this share of the heaviest is a crumb of the grid."""

_SAME_LINE = 0.6
"""A digit within this share of a digit from a line of writing's course is on that line."""

_EDGES = 0.8
"""A group with more than this share of its pixels along its box's edges is a frame or a grid's
cell."""

_CELL = 0.5
"""A grid's cell is at least this many digits wide and tall (a 1 is narrower)..."""

_SMALLEST_CELL = 8
"""...and at least this many pixels."""

_SOLID = 0.5
"""A group at the picture's border inked over more than this share of its box is a shadow or
the table."""

_STRAY = 0.15
"""A group with fewer pixels than this share of a typical digit's (scaled by its height) is a
stray mark."""

_PRINT_HEIGHT = 0.7
"""Printed labels beside handwriting are at most this share of its digits' height..."""

_PRINT_PIECE = 0.8
"""...though a capital, a bracket or a descender reaches higher."""

_PRINT_STROKE = 0.8
"""A printed line's stroke (ink per crossing) is at most this share of the pen's."""

_PRINT_PIECES = 2
"""A printed line holds at least this many pieces (words or letters)..."""

_PRINT_SPAN = 4
"""...and is this many times as long as it is tall: wider than a few digits written small side
by side."""

_DIGIT_WIDTH = 1.5
"""A piece wider than this many times its height is no one digit: in print, a word."""

_LETTERS = 5
"""A printed line without a word's piece (its letters apart in a close-up) has this many."""

_WORD_GAP = 0.5
"""Pieces of one printed line are at most this share of its height apart: a word's space is
about a quarter of the type's size, digits written by hand stand farther apart..."""

_SAME_ROWS = 0.5
"""...share at least this share of the shorter one's rows..."""

_TYPE_SIZES = 2
"""...and are within this factor of the line's height."""


class Group(NamedTuple):
    """One digit's ink on the page."""

    box: Box
    """Where it lies in the ink map."""
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
    box = parts.box
    printed = np.zeros(parts.count, bool)
    for line in _printed_lines(parts, keep):
        printed[line] = True
        rows = f"{box[line, 1].min():.0f}-{box[line, 3].max():.0f}"
        ignored.append(f"a line of printed text ({len(line)} pieces) at rows {rows}")
    keep = keep[~printed[keep]]
    mass = parts.mass
    large = _heavy(parts, keep)
    unit = float(np.median(_heights(box[_sizing(parts, keep, _SIZING)])))
    pen = float(np.median(parts.strength[large]))
    darkest = FAINTER_THAN_PEN * float(np.median(parts.peak[large]))
    height, width = _heights(box), _widths(box)
    stub = parts.touches & (
        (np.minimum(height, width) <= _THIN * unit) | (height > _STUB_TALL * width)
    )
    # Small faint pieces are the grid's, whatever they lie next to; a faint piece as heavy as
    # a stroke may be the pencil's, and is judged with the digit it joins.
    faint = (parts.strength < _FAINT * pen) & (parts.peak < darkest)
    crumb = faint & (mass < _CRUMB * mass[keep].max())
    for i in keep[(stub | crumb)[keep]]:
        why = "a line's end at the border" if stub[i] else "faint (a grid's remnant)"
        ignored.append(f"{why} at rows {box[i, 1]:.0f}-{box[i, 3]:.0f}")
    keep = keep[~(stub | crumb)[keep]]
    if keep.size == 0:
        return [], ignored
    groups = _merge_pieces(box[keep].copy(), [[int(i)] for i in keep], unit)
    found: list[tuple[Box, list[int]]] = []
    for members in groups:
        union = Box.enclosing(box[members])
        strength = mass[members].sum() / max(int(parts.pixels[members].sum()), 1)
        if strength < _FAINT * pen and parts.peak[members].max() < darkest:
            ignored.append(f"faint (a grid's remnant) at rows {union.y0}-{union.y1}")
            continue
        if max(union.height, union.width) < _SPECK * unit:
            ignored.append(f"speck at rows {union.y0}-{union.y1}")
            continue
        if union.height > _TALLEST * unit or (
            parts.touches[members].any() and union.width > _WIDEST_AT_BORDER * unit
        ):
            ignored.append(f"not a digit (too large) at rows {union.y0}-{union.y1}")
            continue
        found.append((union, members))
    groups_out = [
        cut
        for union, members in found
        for cut in _split_touching(parts, union, members, unit)
        if cut.box.height >= _SPECK * unit
    ]
    return _reading_order(_not_clutter(groups_out, parts.shape, unit, ignored), unit), ignored


def _heavy(parts: Components, keep: np.ndarray) -> np.ndarray:
    """The pieces among `keep` with at least `_HEAVY` of the heaviest one's ink."""
    mass = parts.mass[keep]
    return keep[mass >= _HEAVY * mass.max()]


def _sizing(parts: Components, keep: np.ndarray, share: float) -> np.ndarray:
    """The pieces among `keep` that show a digit's size: heavy ones at least `share` of the
    tallest of those."""
    large = _heavy(parts, keep)
    tall = _heights(parts.box[large])
    return large[tall >= share * tall.max()]


def _heights(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, 3] - boxes[:, 1]


def _widths(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, 2] - boxes[:, 0]


def _printed_lines(parts: Components, keep: np.ndarray) -> list[list[int]]:
    """Lines of printed text (a form's labels) among the pieces `keep`: pieces of about one
    height, well under the digits', side by side on one line with a word's gap at most, long
    for their height, holding a word or many letters, drawn with a stroke markedly thinner
    than the pen's. Print as large or
    as bold as the handwriting cannot be told apart by its stroke, and is kept."""
    if keep.size < _PRINT_PIECES:
        return []  # too few pieces for a printed line (most photos: one digit, one piece)
    box, stroke = parts.box, parts.stroke
    height, width = _heights(box), _widths(box)
    # The handwriting's size and pen, from the pieces shaped like digits (a printed word
    # is wider than tall).
    shaped = keep[width[keep] <= _DIGIT_WIDTH * height[keep]]
    if shaped.size == 0:
        return []
    written = _sizing(parts, shaped, _SIZING)
    unit = float(np.median(height[written]))
    pen_stroke = float(np.median(stroke[written]))
    small = keep[(height[keep] <= _PRINT_PIECE * unit) & (stroke[keep] <= pen_stroke)]
    lines: list[list[int]] = []
    for i in small[np.argsort(box[small, 0], kind="stable")]:
        for line in lines:
            size = float(np.median(height[line]))
            last = line[-1]
            shared = min(box[i, 3], box[last, 3]) - max(box[i, 1], box[last, 1])
            if (
                shared >= _SAME_ROWS * min(height[i], height[last])
                and box[i, 0] - box[last, 2] <= _WORD_GAP * size
                and size / _TYPE_SIZES <= height[i] <= _TYPE_SIZES * size
            ):
                line.append(int(i))
                break
        else:
            lines.append([int(i)])
    return [
        line
        for line in lines
        if len(line) >= _PRINT_PIECES
        and (len(line) >= _LETTERS or (width[line] > _DIGIT_WIDTH * height[line]).any())
        and np.median(height[line]) <= _PRINT_HEIGHT * unit
        and box[line, 2].max() - box[line, 0].min() >= _PRINT_SPAN * np.median(height[line])
        and np.median(stroke[line]) <= _PRINT_STROKE * pen_stroke
    ]


def _not_clutter(
    groups: list[Group], shape: tuple[int, ...], unit: float, ignored: list[str]
) -> list[Group]:
    """Leave out what the pen did not write though it is dark enough: a grid's cell or a frame
    (ink all along its box's edges), a shadow or the table at the picture's edge (a solid
    patch touching it), and, beside digits, stray bits with a fraction of a digit's ink."""
    if len(groups) < 2:
        return groups
    pixels = np.array([np.count_nonzero(g.mask) for g in groups])
    upper = np.argsort(pixels)[len(pixels) // 2 :]
    typical = float(np.median(pixels[upper]))
    tall = float(np.median([groups[i].mask.shape[0] for i in upper]))
    kept = []
    for group, count in zip(groups, pixels, strict=True):
        edge = group.mask.copy()
        edge[2:-2, 2:-2] = False
        at_border = group.box.sides_touched(shape) > 0
        small_box = min(group.mask.shape) < max(_CELL * unit, _SMALLEST_CELL)
        if not small_box and np.count_nonzero(edge) > _EDGES * count:
            why = "a grid's cell or a frame"
        elif at_border and group.mask.mean() > _SOLID:
            why = "a shadow or the table at the edge"
        elif count < _STRAY * typical * min(1.0, group.mask.shape[0] / tall):
            why = "too little ink beside the digits"
        else:
            kept.append(group)
            continue
        ignored.append(f"{why} at rows {group.box.y0}-{group.box.y1}")
    return kept


def _merge_pieces(boxes: np.ndarray, groups: list[list[int]], unit: float) -> list[list[int]]:
    """Join pieces into digits, closest pair first, while the union stays one digit: pieces
    one above the other (a 5's bar, a broken stroke) or side by side with hardly a gap (an
    open 4's stem), as long as the whole is no wider than a digit is tall.

    `boxes` are the groups' boxes, one (x0, y0, x1, y1) row each.
    """
    while len(groups) > 1:
        left = np.minimum(boxes[:, None, 0], boxes[None, :, 0])
        top = np.minimum(boxes[:, None, 1], boxes[None, :, 1])
        right = np.maximum(boxes[:, None, 2], boxes[None, :, 2])
        bottom = np.maximum(boxes[:, None, 3], boxes[None, :, 3])
        height, width = bottom - top, right - left
        heights, widths = _heights(boxes), _widths(boxes)
        gap_y = np.maximum(height - heights[:, None] - heights[None, :], 0.0)
        gap_x = np.maximum(width - widths[:, None] - widths[None, :], 0.0)
        overlap = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(
            boxes[:, None, 0], boxes[None, :, 0]
        )
        narrower = np.maximum(np.minimum(widths[:, None], widths[None, :]), 1.0)
        flat = heights <= _FLAT * widths
        bar = (flat[:, None] | flat[None, :]) & (overlap >= 0)
        stacked = ((overlap >= _OVERLAP * narrower) | bar) & (gap_y <= _GAP * unit)
        beside = (gap_y == 0) & (gap_x <= _BESIDE * height)
        bigger = np.maximum(np.maximum(heights[:, None], heights[None, :]), unit)
        tall_enough = height <= _TALLEST_UNION * bigger
        fits = (stacked & (width <= _WIDEST_STACK * height)) | (width <= _WIDEST_BESIDE * height)
        one = tall_enough & fits
        gap = np.where((stacked | beside) & one, np.maximum(gap_x, gap_y), np.inf)
        np.fill_diagonal(gap, np.inf)
        i, j = np.unravel_index(int(np.argmin(gap)), gap.shape)
        if not np.isfinite(gap[i, j]):
            break
        i, j = min(i, j), max(i, j)
        boxes[i] = (left[i, j], top[i, j], right[i, j], bottom[i, j])
        groups[i] = groups[i] + groups[j]
        boxes = np.delete(boxes, j, axis=0)
        del groups[j]
    return groups


def _split_touching(parts: Components, union: Box, members: list[int], unit: float) -> list[Group]:
    """The group as one digit, or cut where a thin neck joins two touching digits."""
    left, top, right, bottom = union
    chosen = np.zeros(parts.count, bool)
    chosen[members] = True
    mask = parts.mask_of(chosen)[top:bottom, left:right]
    width = right - left
    if width <= _WIDE * unit:
        return [Group(union, mask, False)]
    columns = mask.sum(axis=0)
    pieces = max(2, round(width / unit))
    cuts = []
    reach = int(_NECK_SEARCH * unit)
    for k in range(1, pieces):
        centre = round(k * width / pieces)
        lo, hi = max(1, centre - reach), min(width - 1, centre + reach)
        if hi <= lo:
            continue
        at = lo + int(np.argmin(columns[lo:hi]))
        if columns[at] <= _NECK * unit:
            cuts.append(at)
    if not cuts:
        return [Group(union, mask, True)]
    result = []
    for a, b in zip([0, *cuts], [*cuts, width], strict=True):
        piece = mask[:, a:b]
        rows = np.flatnonzero(piece.any(axis=1))
        if rows.size == 0:
            continue
        sub = piece[rows[0] : rows[-1] + 1]
        box = Box(left + a, top + int(rows[0]), left + b, top + int(rows[-1]) + 1)
        result.append(Group(box, sub, (b - a) > _WIDE * unit))
    return result


def _reading_order(groups: list[Group], unit: float) -> list[Group]:
    """Lines top to bottom, each left to right. A digit joins the line whose course (its
    members' centres, fitted by a straight line once it has two) passes nearest its centre,
    within half a digit's height."""
    centres = [((g.box.y0 + g.box.y1) / 2, (g.box.x0 + g.box.x1) / 2) for g in groups]
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
