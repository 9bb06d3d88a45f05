"""The one box type of the photo pipeline: a rectangle of pixels, as (x0, y0, x1, y1)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Box(NamedTuple):
    """Columns `x0` to `x1` and rows `y0` to `y1` of an image, the ends excluded.

    A tuple, so a box compares equal to its (x0, y0, x1, y1) and unpacks as one; numpy indexes
    with `slices`, not with the box itself.
    """

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def enclosing(cls, boxes: np.ndarray) -> Box:
        """The box around `boxes`, one (x0, y0, x1, y1) row each."""
        return cls(
            int(boxes[:, 0].min()),
            int(boxes[:, 1].min()),
            int(boxes[:, 2].max()),
            int(boxes[:, 3].max()),
        )

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def slices(self) -> tuple[slice, slice]:
        """The box's rows and columns, to index an image with."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def shifted(self, dx: int, dy: int) -> Box:
        """The same box `dx` columns right and `dy` rows down."""
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def grown(self, margin: int) -> Box:
        """The box with `margin` more pixels on each side, not before the image's first row
        or column (slicing clips the far ends)."""
        return Box(
            max(self.x0 - margin, 0),
            max(self.y0 - margin, 0),
            self.x1 + margin,
            self.y1 + margin,
        )

    def sides_touched(self, shape: tuple[int, ...]) -> int:
        """How many of the four borders of an image of `shape` (rows, columns) the box reaches."""
        return (self.y0 == 0) + (self.x0 == 0) + (self.y1 == shape[0]) + (self.x1 == shape[1])
