"""The line model's invariants, over seeded generator photos (`testkit.synth_glyphs`).

- On plain paper, with no family of lines, no ink is removed as a line.
- On squared paper, a straight stroke drawn along one of its lines keeps its ink.
- A thin pencil or ballpoint stroke comes out connected where it was connected on paper.

Each photo is drawn from strokes whose ink is known, so what the stage kept can be checked
against where the pen went.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from model.serving.photo.decode import decode
from model.serving.photo.digits import clean_page, find_digit, paper_noise, without_faint_grid
from model.serving.photo.imageops import grow
from model.serving.photo.ink import ink_map
from model.serving.preprocess import find_digits, to_mnist
from testkit.synth import make_photo
from testkit.synth_glyphs import clean_digit, glyph_for, glyph_photo

PHOTOS = 24


def _working(data: bytes) -> np.ndarray:
    return ink_map(decode(data, 40_000_000).gray)


def _pen_at_working_size(coverage: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where the pen covered at least half of a pixel of the working copy."""
    small = Image.fromarray(coverage).resize(shape[::-1], Image.Resampling.BOX)
    return np.asarray(small) >= 0.5


@pytest.mark.parametrize("kind", ["close_up_straight", "long_bar_7"])
def test_on_plain_paper_no_ink_is_removed_as_a_line(kind):
    """1s, 4s, 7s and 9s whose straight strokes span most of the frame, and 7s with a long bar,
    in ballpoint and marker: every pixel above the paper's noise is still there after the
    lines and frames are taken out, and nothing is said to be removed."""
    rng = np.random.default_rng(11)
    for i in range(PHOTOS):
        glyph = glyph_for(kind, i, rng)
        ink = _working(glyph_photo(glyph, rng, kind).data)
        page = clean_page(ink)
        assert page.removed == [], (i, glyph.label, page.removed)
        assert np.array_equal(page.mask, ink > paper_noise(ink)[0]), (i, glyph.label)


def test_a_stroke_along_a_squared_paper_line_keeps_its_ink():
    """The stem of a 1 or a 4, a 7's bar or a 9's tail drawn along a line of squared paper:
    the grid is taken out, and the stroke stays: at least 97% of the pixels the pen covered
    have ink kept within a pixel (a thin pen's edge pixels may go with the line's)."""
    rng = np.random.default_rng(12)
    gridded = 0
    for i in range(PHOTOS):
        glyph = glyph_for("stroke_on_grid", i, rng)
        photo = glyph_photo(glyph, rng, "stroke_on_grid")
        ink = _working(photo.data)
        page = clean_page(ink)
        gridded += any(why.startswith("ruled or squared paper") for why in page.removed)
        pen = _pen_at_working_size(photo.coverage, ink.shape)
        kept = np.count_nonzero(grow(page.mask) & pen) / np.count_nonzero(pen)
        assert kept >= 0.97, (i, glyph.label, kept)
    # A faint grid may not rise above the paper's noise at all; most do.
    assert gridded >= PHOTOS // 2


def _pieces(image: np.ndarray) -> int:
    """Connected pieces of a 28x28 digit's strokes (8-connected, at half its ink)."""
    return ndimage.label(image >= 128, np.ones((3, 3)))[1]


def test_thin_strokes_on_squared_paper_stay_connected():
    """Thin pencil and ballpoint digits (0, 1, 4, 7, 8, 9) on squared paper, two to four squares
    tall, their strokes crossing the grid's lines: each comes out in as many pieces as the
    same digit drawn clean, and as one digit of the page."""
    rng = np.random.default_rng(13)
    for i in range(PHOTOS):
        glyph = glyph_for("pencil_on_grid", i, rng)
        data = glyph_photo(glyph, rng, "pencil_on_grid").data
        assert _pieces(to_mnist(data)) == _pieces(clean_digit(glyph)), (i, glyph.label)
        assert len(find_digits(data).digits) == 1, (i, glyph.label)


def test_a_small_digit_on_a_faint_grid_is_found_as_one(mnist):
    """A small digit in faint pencil on squared paper whose lines rise above the paper's
    noise only in pieces (`small_on_grid`): the pieces lying on the grid's lines are the
    grid's, not digits, and the photo is answered as one digit, not as a page."""
    rng = np.random.default_rng(15)
    split = []
    for i, digit in enumerate(mnist.test_images[:PHOTOS]):
        page = find_digits(make_photo(digit, rng, "small_on_grid"))
        if len(page.digits) > 1:
            split.append((i, len(page.digits)))
    assert len(split) <= 2, split


def _faint_grid(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An ink map (240x320) of squared paper whose lines, 13 px apart, mostly lie below the
    paper's noise threshold (0.07): they break up into pieces. Returns it and the grid."""
    height, width, spacing = 240, 320, 13
    rng = np.random.default_rng(seed)
    ink = rng.normal(0.0, 0.01, (height, width)).astype(np.float32)
    grid = ((np.arange(height)[:, None] % spacing) < 1) | ((np.arange(width)[None] % spacing) < 1)
    ink[grid] = np.where(rng.random(np.count_nonzero(grid)) < 0.3, 0.09, 0.05)
    return ink, grid


def test_a_stroke_along_a_line_of_a_faint_grid_keeps_its_ink():
    """A pencil stem lying on one line of a grid too faint to rise above the paper's noise
    as lines: the grid's pieces go, the stem, darker than they are, stays whole (the search a
    page of several digits gets, `without_faint_grid`)."""
    ink, grid = _faint_grid(16)
    stem = np.zeros_like(grid)
    stem[80:160, 156:158] = True  # on the vertical line at column 156, a third of its length
    ink[stem] = 0.35
    page = without_faint_grid(ink, clean_page(ink))
    assert page is not None
    assert any(why.startswith("pieces of a faint grid") for why in page.removed), page.removed
    assert page.mask[stem].all()
    assert np.count_nonzero(page.mask & grid & ~stem) < 0.05 * np.count_nonzero(grid)


def test_a_digit_joins_no_piece_of_a_faint_grid():
    """A small pencil 0 on a faint grid, one of whose lines runs unbroken beside it: that piece
    of the grid is near enough and heavy enough to be taken for a detached stroke, but it is
    far fainter than the pen and lies on the grid's lines, so the digit found is the 0 alone."""
    ink, _ = _faint_grid(17)
    rows, cols = np.mgrid[0:240, 0:320]
    radius = np.hypot(rows - 120, cols - 160)
    ring = (radius >= 12.5) & (radius <= 15)
    ink[ring] = 0.2  # faint pencil: the grid reaches 0.4 of its ink (`_STRONG`)
    ink[92:152, 182] = 0.09  # a whole stretch of the grid's line at column 182, beside the 0
    digit = find_digit(ink)
    assert digit is not None
    ys, xs = np.nonzero(ring)
    ring_box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert all(abs(a - b) <= 1 for a, b in zip(digit.box, ring_box, strict=True)), digit.box
