"""Stage 4, components: the connected pieces of ink, with their mass, box and relations.

Frames (a piece whose box encloses another substantial one) are found here; which pieces make
a digit is the next stage's question.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from model.serving.photo.box import Box
from model.serving.photo.imageops import grow, label

_SUBSTANTIAL = 0.002
"""A component with less than this share of all the ink is a speck."""

_FRAMED = 0.15
"""A frame and what it encloses both weigh at least this share of the frame."""

_CENTRE_PULL = 0.8
"""The digit is looked for near the centre: a component's score falls by this much per unit of
its distance from it (as a share of the picture's sides)."""

_AT_BORDER = 0.25
"""A component reaching the picture's border (a paper edge, a table, a shadow) scores this
share of its mass."""

_NEAR = 0.3
"""A piece within this share of the digit's side joins it..."""

_NEAR_MASS = 0.05
"""...when it weighs at least this share of the digit so far;"""

_INSIDE_MASS = 0.02
"""a piece within the digit's box, at least this share."""

_AT_BORDER_MASS = 0.2
"""A piece reaching the picture's border joins only with this share of the digit's mass, and
no larger than it."""

_LARGEST_PIECE = 2.0
"""A piece that joins the digit is at most this many times its side, unless it is one of its
strokes (`_stroke_of`)."""

_MEETS = 0.1
"""A long stroke of the digit comes within this share of the digit's side of it..."""

_PAST = 0.1
"""...and does not reach past it by this share of its side at both ends, as a rule or an
underline does: a 9's tail leaves its loop, a 6's stem enters its own."""


class Components:
    """Connected ink components (of a mask whose ink is positive) with their mass and bounding
    box, each worked out when first needed.

    Labelling costs by the pixel, ink or not, so it runs on the mask with every run of empty
    rows and of empty columns cut to one, which keeps the same components apart: on a clean
    page most of the image goes.
    """

    def __init__(self, ink: np.ndarray, mask: np.ndarray) -> None:
        self.shape = mask.shape
        self.mask = mask
        self.rows = _kept(np.any(mask, axis=1))
        self.cols = _kept(np.any(mask, axis=0))
        self.inside = mask[_grid(self.rows, self.cols)]
        self.labels, self.count, self.spans = label(self.inside)
        # The cut grid keeps the image's raster order, so these line up with `labels[inside]`.
        self.weights = ink[mask]

    @cached_property
    def owners(self) -> np.ndarray:
        """The component of each pixel of the mask, in the order of `weights`."""
        return self.labels[self.inside]

    @cached_property
    def mass(self) -> np.ndarray:
        """Summed ink of each component."""
        return np.bincount(self.owners, self.weights, self.count + 1)[1:]

    @cached_property
    def pixels(self) -> np.ndarray:
        """How many pixels each component has."""
        return np.bincount(self.owners, minlength=self.count + 1)[1:]

    @cached_property
    def strength(self) -> np.ndarray:
        """Mean ink of each component: a faint grid's remnants are weaker than the pen."""
        return self.mass / np.maximum(self.pixels, 1)

    @cached_property
    def peak(self) -> np.ndarray:
        """Darkest ink of each component: a thin pen's stroke has a dark core, a faint
        grid's remnant has none."""
        if self.count == 1:
            return self.weights.max(initial=0).reshape(1)
        result = np.zeros(self.count + 1, self.weights.dtype)
        np.maximum.at(result, self.owners, self.weights)
        return result[1:]

    @cached_property
    def stroke(self) -> np.ndarray:
        """Ink per crossing of each component's strokes (its mass over the runs of ink along
        its rows and its columns, halved): the pen's width times its darkness, which holds
        for strokes thinner than a pixel too. Printed text is drawn thinner than a pen."""
        labels = self.labels
        inked = labels != 0
        starts = [
            labels[:, 0],
            labels[0],
            labels[:, 1:][inked[:, 1:] & ~inked[:, :-1]],
            labels[1:][inked[1:] & ~inked[:-1]],
        ]
        crossings = np.bincount(np.concatenate(starts), minlength=self.count + 1)[1:]
        return 2 * self.mass / np.maximum(crossings, 1)

    @cached_property
    def box(self) -> np.ndarray:
        """Boxes in the image, one (x0, y0, x1, y1) row each (as in `Box`), as floats for the
        geometry in `digit`."""
        spans = self.spans
        return np.stack(
            [
                self.cols[spans[:, 0]],
                self.rows[spans[:, 1]],
                self.cols[spans[:, 2] - 1] + 1,
                self.rows[spans[:, 3] - 1] + 1,
            ],
            axis=1,
        ).astype(float)

    @cached_property
    def touches(self) -> np.ndarray:
        """Which components reach the image's border."""
        height, width = self.shape
        box = self.box
        return (box[:, 0] == 0) | (box[:, 1] == 0) | (box[:, 2] == width) | (box[:, 3] == height)

    @cached_property
    def runs_off(self) -> np.ndarray:
        """Which components touch the image's border, if at all, only at the ends of their
        length: a stroke cut by the frame runs off the picture, a paper edge lies along it."""
        height, width = self.shape
        box = self.box
        upright = box[:, 3] - box[:, 1] >= box[:, 2] - box[:, 0]
        at_sides = (box[:, 0] == 0) | (box[:, 2] == width)
        at_ends = (box[:, 1] == 0) | (box[:, 3] == height)
        return np.where(upright, ~at_sides, ~at_ends)

    @cached_property
    def substantial(self) -> np.ndarray:
        """Components with at least `_SUBSTANTIAL` of all the ink; the rest are specks."""
        return self.mass >= _SUBSTANTIAL * max(float(self.mass.sum()), 1e-9)

    def frames(self) -> np.ndarray:
        """Components that enclose another substantial one: a frame or a circle drawn around
        the digit is not the digit. The frame's box holds the other's, and its ink lies
        beyond the other on all four sides (a 7 whose box holds a smudge is no frame). Both
        weigh at least `_FRAMED` of the frame, which most pages rule out from the masses alone."""
        result = np.zeros(self.count, bool)
        mass = self.mass
        if not self.substantial.any():
            return result
        if np.count_nonzero(mass >= _FRAMED * mass[self.substantial].min()) < 2:
            return result
        box = self.box
        for i in np.flatnonzero(self.substantial):
            inner = (
                (box[:, 0] > box[i, 0])
                & (box[:, 1] > box[i, 1])
                & (box[:, 2] < box[i, 2])
                & (box[:, 3] < box[i, 3])
                & (mass >= _FRAMED * mass[i])
            )
            candidates = np.flatnonzero(inner)
            if candidates.size:
                mine = self.labels == i + 1
                result[i] = any(self._surrounds(mine, int(j)) for j in candidates)
        return result

    def _surrounds(self, mine: np.ndarray, inner: int) -> bool:
        """Whether a component's ink (`mine`, on the labelled grid, whose rows and columns
        keep the image's order) lies left, right, above and below `inner`'s box, level with
        it."""
        left, top, right, bottom = self.box[inner]
        r0, r1 = np.searchsorted(self.rows, (top, bottom))
        c0, c1 = np.searchsorted(self.cols, (left, right))
        return bool(
            mine[r0:r1, :c0].any()
            and mine[r0:r1, c1:].any()
            and mine[:r0, c0:c1].any()
            and mine[r1:, c0:c1].any()
        )

    def mask_of(self, chosen: np.ndarray) -> np.ndarray:
        """Image-sized boolean mask of the components where `chosen` (one flag each) is set;
        only their joint box is looked up."""
        result = np.zeros(self.shape, bool)
        if chosen.any():
            spans = self.spans[chosen]
            rows = slice(spans[:, 1].min(), spans[:, 3].max())
            cols = slice(spans[:, 0].min(), spans[:, 2].max())
            flags = np.concatenate([[False], chosen])[self.labels[rows, cols]]
            result[_grid(self.rows[rows], self.cols[cols])] = flags
        return result

    def digit_mask(self) -> np.ndarray:
        """Boolean mask of `digit`'s components; a lone component is the digit."""
        if self.count == 1:
            return self.mask.copy()
        chosen = np.zeros(self.count, bool)
        chosen[self.digit] = True
        return self.mask_of(chosen)

    @cached_property
    def digit(self) -> list[int]:
        """Indices of the digit's components: the heaviest central one, preferring ones clear
        of the image border (paper edges, tables, shadows), plus pieces close to it (the
        detached top of a 5, the two strokes of an open 4) and at most `_LARGEST_PIECE` times
        its size (a paper edge is not), or longer when it is a stroke that leaves the digit
        (`_stroke_of`: a 9's straight tail drawn apart from a small loop)."""
        if self.substantial.sum() <= 1:
            return [int(i) for i in np.flatnonzero(self.substantial)]
        height, width = self.shape
        box, mass = self.box, self.mass
        cy = (box[:, 1] + box[:, 3]) / 2 / height - 0.5
        cx = (box[:, 0] + box[:, 2]) / 2 / width - 0.5
        score = (
            mass * (1.0 - _CENTRE_PULL * np.hypot(cy, cx)) * np.where(self.touches, _AT_BORDER, 1.0)
        )
        main = int(np.argmax(np.where(self.substantial, score, -1.0)))
        chosen = {main}
        union = Box.enclosing(box[[main]])
        grew = True
        while grew:
            grew = False
            side = max(union.height, union.width)
            core = mass[list(chosen)].sum()
            gap_y = np.maximum(np.maximum(union.y0 - box[:, 3], box[:, 1] - union.y1), 0)
            gap_x = np.maximum(np.maximum(union.x0 - box[:, 2], box[:, 0] - union.x1), 0)
            near = (np.maximum(gap_y, gap_x) <= _NEAR * side) & (mass >= _NEAR_MASS * core)
            inside = (gap_y == 0) & (gap_x == 0) & (mass >= _INSIDE_MASS * core)
            extent = np.maximum(box[:, 3] - box[:, 1], box[:, 2] - box[:, 0])
            clear = ~self.touches | ((mass >= _AT_BORDER_MASS * core) & (extent <= side))
            long = extent > _LARGEST_PIECE * side
            piece = (near | inside) & (clear | (long & self.runs_off)) & self.substantial
            new = [
                int(i)
                for i in np.flatnonzero(piece)
                if int(i) not in chosen and (not long[i] or self._stroke_of(int(i), chosen))
            ]
            if new:
                chosen.update(new)
                union = Box.enclosing(box[sorted(chosen)])
                grew = True
        return sorted(chosen)

    def _stroke_of(self, piece: int, chosen: set[int]) -> bool:
        """Whether a long `piece` is a stroke of the digit of the `chosen` pieces: it comes
        within `_MEETS` of the side of the digit it would make of them, and reaches past them by
        `_PAST` of that side at one end at most, along its own length."""
        digit = Box.enclosing(self.box[sorted(chosen)])
        whole = Box.enclosing(self.box[sorted(chosen | {piece})])
        side = max(whole.height, whole.width)
        x0, y0, x1, y1 = self.box[piece]
        if y1 - y0 >= x1 - x0:
            first, last, low, high = y0, y1, digit.y0, digit.y1
        else:
            first, last, low, high = x0, x1, digit.x0, digit.x1
        if low - first > _PAST * side and last - high > _PAST * side:
            return False
        reach = max(1, round(_MEETS * side))
        window = whole.grown(reach).slices
        flags = np.zeros(self.count, bool)
        flags[list(chosen)] = True
        near = grow(self.mask_of(flags)[window], reach)
        flags[:] = False
        flags[piece] = True
        return bool((near & self.mask_of(flags)[window]).any())


def _kept(occupied: np.ndarray) -> np.ndarray:
    """Indices of the rows (or columns) `Components` labels: those with ink, and the first
    empty one after each run of them, which keeps the runs apart (row 0 alone when there is
    no ink, so that the grid is never empty)."""
    kept = occupied.copy()
    kept[1:] |= occupied[:-1]
    return np.flatnonzero(kept) if kept.any() else np.zeros(1, np.intp)


def _grid(rows: np.ndarray, cols: np.ndarray) -> tuple[slice | np.ndarray, ...]:
    """Index of the pixels at sorted `rows` x `cols`: slices where these run without a gap
    (always, for one component), which index far more cheaply, else an open mesh."""
    at_rows, at_cols = _run(rows), _run(cols)
    if isinstance(at_rows, slice) or isinstance(at_cols, slice):
        return at_rows, at_cols
    return np.ix_(rows, cols)


def _run(indices: np.ndarray) -> slice | np.ndarray:
    """Sorted indices as a slice if they run without a gap."""
    if indices[-1] - indices[0] == len(indices) - 1:
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return indices


def pad(image: np.ndarray, width: int = 1) -> np.ndarray:
    """`np.pad(image, width)` without its generic machinery."""
    height, breadth = image.shape
    padded = np.zeros((height + 2 * width, breadth + 2 * width), image.dtype)
    padded[width : width + height, width : width + breadth] = image
    return padded
