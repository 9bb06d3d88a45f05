"""`model.serving.photo.lines` on drawn masks: which bands are paper lines, and what is left.

The search for lines takes shortcuts (a sample of the ink for the slope, no second pass when
what is left cannot hold a line); these pages pin down what it must still find.
"""

from __future__ import annotations

import numpy as np

from model.serving.photo.lines import remove_lines

SHAPE = (240, 320)
LINE_INK = 0.3
PEN_INK = 0.9


def ruled(slope: float, rows: range, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Lines 2 pixels thick, tilted by `slope`, one starting at each of `rows` on the left."""
    y, x = np.indices(shape)
    tilted = y - np.floor(x * slope)
    return np.isin(tilted, [*rows, *(r + 1 for r in rows)])


def page(lines: np.ndarray, pen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ink = np.where(pen, PEN_INK, np.where(lines, LINE_INK, 0.0)).astype(np.float32)
    return ink > 0.07, ink


def stem(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A digit's stroke, 6 pixels wide, down the middle third of the page."""
    pen = np.zeros(shape, bool)
    pen[70:170, 150:156] = True
    return pen


def test_ruled_lines_go_and_the_stroke_across_them_stays():
    lines = ruled(0.06, range(10, 230, 30))
    mask, ink = page(lines, stem())
    cleared, divided, _, _ = remove_lines(mask, ink, 0.07)
    assert not (cleared & lines & ~stem()).any()
    assert cleared[stem()].all()
    assert np.allclose(divided[lines & ~stem()], 0.0)


def test_lines_tilted_two_ways_are_all_found():
    """Perspective tilts the lines near the top unlike those near the bottom: the second
    search, on what the first left, finds the others."""
    top = ruled(0.0, range(10, 110, 25))
    bottom = ruled(0.14, range(100, 200, 25)) & (np.indices(SHAPE)[0] > 115)
    mask, ink = page(top | bottom, stem())
    cleared, _, _, _ = remove_lines(mask, ink, 0.07)
    assert not (cleared & (top | bottom) & ~stem()).any()
    assert cleared[stem()].all()


def test_vertical_lines_are_found_like_horizontal_ones():
    lines = ruled(-0.08, range(15, 300, 40), SHAPE[::-1]).T
    pen = np.zeros(SHAPE, bool)
    pen[110:116, 100:240] = True
    mask, ink = page(lines, pen)
    cleared, _, _, _ = remove_lines(mask, ink, 0.07)
    assert not (cleared & lines & ~pen).any()
    assert cleared[pen].all()


def test_lines_across_half_the_page_are_not_paper_lines():
    short = ruled(0.03, range(40, 200, 30)) & (np.indices(SHAPE)[1] < 150)
    mask, ink = page(short, stem())
    cleared, divided, _, _ = remove_lines(mask, ink, 0.07)
    assert np.array_equal(cleared, mask)
    assert np.array_equal(divided, ink)
