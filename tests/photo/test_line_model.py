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


def _faint_grid(seed: int, shown_rows: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An ink map (240x320) of squared paper whose lines, 13 px apart, mostly lie below the
    paper's noise threshold (0.07): they break up into pieces. With `shown_rows`, every fourth row
    is printed at that level instead, and shows as a line (as a photo's light and focus may
    let only some of a grid's lines show). Returns it and the grid."""
    height, width, spacing = 240, 320, 13
    rng = np.random.default_rng(seed)
    ink = rng.normal(0.0, 0.01, (height, width)).astype(np.float32)
    grid = ((np.arange(height)[:, None] % spacing) < 1) | ((np.arange(width)[None] % spacing) < 1)
    ink[grid] = np.where(rng.random(np.count_nonzero(grid)) < 0.3, 0.09, 0.05)
    if shown_rows is not None:
        ink[:: 4 * spacing] = shown_rows
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
    assert any(why.startswith("a faint grid: ") for why in page.removed), page.removed
    assert page.mask[stem].all()
    assert np.count_nonzero(page.mask & grid & ~stem) < 0.05 * np.count_nonzero(grid)


def _pencil_zero_on_a_faint_grid(
    shown_rows: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A small pencil 0 on `_faint_grid` (`shown_rows` as there), a whole stretch of the
    grid's line at column 182 unbroken beside it. Returns the ink map and the 0's pixels."""
    ink, _ = _faint_grid(17, shown_rows)
    rows, cols = np.mgrid[0:240, 0:320]
    radius = np.hypot(rows - 120, cols - 160)
    ring = (radius >= 12.5) & (radius <= 15)
    ink[ring] = 0.2  # faint pencil: the grid reaches 0.4 of its ink (`_STRONG`)
    ink[92:152, 182] = 0.09
    return ink, ring


def _assert_found_alone(ink: np.ndarray, ring: np.ndarray) -> None:
    digit = find_digit(ink)
    assert digit is not None
    ys, xs = np.nonzero(ring)
    ring_box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert all(abs(a - b) <= 1 for a, b in zip(digit.box, ring_box, strict=True)), digit.box


def test_a_digit_joins_no_piece_of_a_faint_grid():
    """A small pencil 0 on a faint grid, one of whose lines runs unbroken beside it: that piece
    of the grid is near enough and heavy enough to be taken for a detached stroke, but it is
    far fainter than the pen and lies on the grid's lines, so the digit found is the 0 alone."""
    _assert_found_alone(*_pencil_zero_on_a_faint_grid())


def test_a_digit_joins_no_piece_of_a_grid_that_showed_on_one_axis():
    """The same 0 and stretch of the grid beside it, on squared paper whose rows are printed
    darker and show as lines, and whose columns break up into pieces: the rows are taken out
    as the paper's, and the columns' family, which did not show, is still looked for; the
    digit is the 0 alone."""
    ink, ring = _pencil_zero_on_a_faint_grid(shown_rows=0.12)
    page = clean_page(ink)
    assert page.ruled_axes == {1}, page.removed
    _assert_found_alone(ink, ring)


def test_a_faint_grid_s_pieces_touching_the_digit_go_with_the_grid():
    """The same 0 and stretch of the grid beside it, with a piece of the grid's row at 117
    touching the 0 (as a faint grid's crossings do): it is one piece with the 0, so no rule on
    pieces can drop it, but once the grid's level is divided out its pixels are paper and the
    pen's are not; the digit is the 0 alone."""
    ink, ring = _pencil_zero_on_a_faint_grid()
    ink[117, 174:180] = 0.09  # from the 0's right side to short of the stretch
    _assert_found_alone(ink, ring)


def test_a_faint_stroke_is_as_dark_across_a_ruled_line_as_along_it():
    """A pencil 1 hardly darker than the ruled lines it crosses, where the darker of pencil
    and print shows (graphite over a printed line): dividing the lines' level out of the band
    leaves its pixels there below the lines' own level, so they are cut and then bridged.
    Bridged, they take the pen's ink from both sides of the line, not the remainder of the
    division: the 1 comes out as dark across each line as between them, in one piece."""
    height, width, spacing = 240, 320, 20
    rng = np.random.default_rng(18)
    ink = rng.normal(0.0, 0.01, (height, width)).astype(np.float32)
    ruled = (np.arange(height)[:, None] % spacing == 10) & np.ones((1, width), bool)
    ink[ruled] = 0.2
    rows, cols = np.mgrid[0:height, 0:width]
    stem = (np.abs(cols - (150 + 0.2 * (rows - 60))) <= 1.5) & (rows >= 60) & (rows < 180)
    ink[stem] = np.maximum(ink[stem], 0.3)
    page = clean_page(ink)
    assert any(why.startswith("ruled or squared paper") for why in page.removed), page.removed
    near_lines = stem & grow(ruled, 2)
    across = np.median(page.ink[near_lines])
    between = np.median(page.ink[stem & ~near_lines])
    assert across >= 0.8 * between, (across, between)
    digit = find_digit(ink, page)
    assert digit is not None
    assert digit.box.height >= 118, digit.box


def test_a_faint_stroke_across_squared_paper_is_found_whole():
    """A pencil stroke at 45° across squared paper, hardly darker than its lines: each line's
    band is wider than the line where the stroke crosses it (and where the other family's
    lines do), but only the places across the band the line holds along most of its length
    are divided, so the stroke's pixels beside the line keep their ink and the stroke is one
    digit, not the piece of it between two lines."""
    height, width, spacing = 240, 320, 13
    rng = np.random.default_rng(19)
    ink = rng.normal(0.0, 0.01, (height, width)).astype(np.float32)
    grid = ((np.arange(height)[:, None] % spacing) < 1) | ((np.arange(width)[None] % spacing) < 1)
    ink[grid] = 0.2
    rows, cols = np.mgrid[0:height, 0:width]
    along = np.clip((rows - 60 + cols - 110) / 200, 0, 1)
    stroke = np.hypot(rows - (60 + 100 * along), cols - (110 + 100 * along)) <= 1.5
    ink[stroke] = np.maximum(ink[stroke], 0.35)
    digit = find_digit(ink)
    assert digit is not None
    assert digit.box.height >= 95, digit.box
    assert digit.box.width >= 95, digit.box
