"""`find_digits`: every digit of a page, in reading order, each framed as `to_mnist` frames one.

Pages are drawn here from MNIST test digits (`testkit.synth_pages`), so where each digit was
written is known. A last test reads `../shared/data/real-digits` where it exists.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from model.serving.preprocess import PreprocessError, find_digits, to_mnist
from testkit import ROOT
from testkit.drawn import encode, render
from testkit.synth_pages import make_page

REAL_DIGITS = ROOT.parent / "shared" / "data" / "real-digits"


def _inside(found: tuple[int, ...], written: tuple[int, ...], slack: int = 6) -> bool:
    return (
        found[0] >= written[0] - slack
        and found[1] >= written[1] - slack
        and found[2] <= written[2] + slack
        and found[3] <= written[3] + slack
    )


@pytest.mark.parametrize("kind", ["row", "two_rows", "three_rows", "slanted", "grid", "ruled"])
def test_each_digit_is_found_where_it_was_written_in_reading_order(mnist, kind):
    rng = np.random.default_rng(1)
    for count in (3, 7, 12):
        digits = mnist.test_images[rng.choice(10_000, count, replace=False)]
        data, boxes = make_page(digits, rng, kind)
        page = find_digits(data)
        assert len(page.digits) == count
        assert page.size == (1280, 960)
        for found, written in zip(page.digits, boxes, strict=True):
            assert _inside(found.box, written)
            assert not found.touching


def test_a_printed_line_beside_the_digits_is_left_out_and_said(mnist):
    """A form's printed label above the handwriting, in several type sizes and wordings: its
    words are not digits, and the debug output says a printed line was ignored."""
    rng = np.random.default_rng(7)
    for count in (2, 5, 9, 12):
        digits = mnist.test_images[rng.choice(10_000, count, replace=False)]
        data, boxes = make_page(digits, rng, "printed_text")
        page = find_digits(data)
        assert len(page.digits) == count
        for found, written in zip(page.digits, boxes, strict=True):
            assert _inside(found.box, written)
        assert any("printed text" in why for why in page.ignored)


@pytest.mark.parametrize("kind", ["row", "two_rows", "slanted", "grid", "ruled", "sizes"])
def test_handwriting_is_never_taken_for_print(mnist, kind):
    """Digits written small beside large ones (drawn here with a thinner stroke, as the
    generator scales its digits) stay digits."""
    rng = np.random.default_rng(8)
    for _ in range(6):
        digits = mnist.test_images[rng.choice(10_000, 12, replace=False)]
        page = find_digits(make_page(digits, rng, kind)[0])
        assert not any("printed" in why for why in page.ignored)
        assert len(page.digits) == 12


@pytest.mark.parametrize(
    ("indices", "places"),
    [
        # A 5 whose detached bar reaches far past its body (9513).
        ([8657, 583, 9513], [(40, 377, 47), (97, 356, 89), (197, 335, 129)]),
        # A small 1 (5859) between large digits, with a tenth of their ink.
        ([53, 5859, 8969], [(436, 339, 123), (597, 376, 47), (683, 348, 103)]),
        # A tall 1 (4927) a few pixels after a 5 (8834): no open 4.
        (
            [622, 8834, 4927, 9664],
            [(633, 362, 76), (732, 363, 74), (819, 352, 95), (949, 349, 103)],
        ),
    ],
)
def test_digits_of_different_sizes_are_each_one_digit(mnist, indices, places):
    rng = np.random.default_rng(9)
    digits = mnist.test_images[indices]
    data, boxes = make_page(digits, rng, "sizes", places=places)
    page = find_digits(data)
    assert len(page.digits) == len(places)
    for found, written in zip(page.digits, boxes, strict=True):
        assert _inside(found.box, written)


def test_each_digit_is_framed_like_the_clean_digit(mnist, model_path):
    from model.serving.modelfile import load_model

    model = load_model(model_path)
    rng = np.random.default_rng(2)
    digits = mnist.test_images[rng.choice(10_000, 10, replace=False)]
    page = find_digits(make_page(digits, rng, "row")[0])
    seen = model.assign(np.stack([d.image for d in page.digits])).clusters
    assert (seen == model.assign(digits).clusters).mean() >= 0.9


def test_one_digit_is_exactly_what_to_mnist_gives(digit):
    data = encode(render(digit, height_frac=0.4))
    page = find_digits(data)
    assert len(page.digits) == 1
    assert np.array_equal(page.digits[0].image, to_mnist(data))
    x0, y0, x1, y1 = page.digits[0].box
    assert 0 <= x0 < x1 <= 640
    assert 0 <= y0 < y1 <= 480


@pytest.mark.parametrize(("label", "cut_at"), [(5, 0.25), (4, 0.3), (7, 0.3)])
def test_a_digit_in_pieces_is_one_digit(mnist, label, cut_at):
    """The top bar of a 5 apart from its body, a 4's arm apart from its bar, a 7's bar
    floating above its stem: one digit, not two."""
    piece = mnist.test_images[np.flatnonzero(mnist.test_labels == label)[0]].copy()
    rows = np.flatnonzero(piece.max(axis=1) > 0)
    cut = rows[0] + round(cut_at * (rows[-1] - rows[0]))
    piece[cut : cut + 2] = 0
    page = find_digits(encode(render(piece, height_frac=0.5)))
    assert len(page.digits) == 1


def test_boxes_are_in_the_upright_pictures_pixels(mnist):
    """A phone's EXIF rotation is applied first: the boxes are where a person sees them."""
    rng = np.random.default_rng(3)
    data, boxes = make_page(mnist.test_images[:4], rng, "row")
    image = Image.open(io.BytesIO(data)).rotate(90, expand=True)  # stored turned left
    exif = Image.Exif()
    exif[0x0112] = 6  # show it turned back right
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    page = find_digits(buffer.getvalue())
    assert page.size == (1280, 960)
    assert len(page.digits) == 4
    for found, written in zip(page.digits, boxes, strict=True):
        assert _inside(found.box, written)


def test_digits_that_touch_are_one_box_said_to_touch_or_cut_in_two(mnist):
    """Two digits written into each other are never read as one confident digit, as a rule:
    they are cut apart or their box says they touch (a narrow one inside the other's width
    can still pass for one digit)."""
    rng = np.random.default_rng(4)
    handled = 0
    for _ in range(8):
        digits = mnist.test_images[rng.choice(10_000, 4, replace=False)]
        page = find_digits(make_page(digits, rng, "touching_pair")[0])
        assert len(page.digits) in (3, 4)
        handled += len(page.digits) == 4 or page.digits[0].touching
    assert handled >= 6


def test_unreadable_and_blank_pictures_are_refused():
    with pytest.raises(PreprocessError, match="not an image"):
        find_digits(b"not a picture")
    with pytest.raises(PreprocessError, match="could not find a digit"):
        find_digits(encode(np.full((480, 640, 3), 230.0)))


def test_the_command_line_lists_every_digit_and_goes_on_past_a_bad_file(
    mnist, model_path, tmp_path
):
    rng = np.random.default_rng(5)
    data, boxes = make_page(mnist.test_images[:5], rng, "row")
    (tmp_path / "row.jpg").write_bytes(data)
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "model",
            "classify",
            "--all",
            "--json",
            "--model",
            str(model_path),
            "row.jpg",
            "broken.jpg",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = json.loads(run.stdout)
    assert first["path"] == "row.jpg"
    assert "error" not in first
    assert [len(d["box"]) for d in first["digits"]] == [4] * 5
    for digit, written in zip(first["digits"], boxes, strict=True):
        assert _inside(tuple(digit["box"]), written)
        assert {"cluster", "distance", "typicality", "outlier"} <= digit.keys()
    assert second["path"] == "broken.jpg"
    assert second["error"].endswith(".")


@pytest.mark.skipif(not REAL_DIGITS.is_dir(), reason="no ../shared/data/real-digits here")
def test_real_single_digit_crops_stay_single():
    """Each real crop holds one digit: it must come out as one, with to_mnist's image. The
    floor guards well below the benchmark's figure (bench_pages.py)."""
    with (REAL_DIGITS / "labels.csv").open(newline="") as handle:
        paths = [REAL_DIGITS / row["path"] for row in csv.DictReader(handle)]
    single = 0
    for path in paths:
        page = find_digits(path.read_bytes())
        single += len(page.digits) == 1
    assert single / len(paths) >= 0.95


def test_any_picture_gives_digits_inside_it_or_a_clear_refusal():
    """Noise, blots, stripes of any size: framed digits with boxes inside the picture, or a
    `PreprocessError`, never another exception."""
    rng = np.random.default_rng(6)
    for case in range(60):
        height, width = (int(v) for v in rng.integers(1, 300, 2))
        if case % 3 == 0:
            pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
        else:
            pixels = np.full((height, width), 230, np.uint8)
            for _ in range(int(rng.integers(1, 30))):
                y, x, h, w = (int(v) for v in rng.integers([0, 0, 1, 1], [height, width, 40, 40]))
                pixels[y : y + h, x : x + w] = 20
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        try:
            page = find_digits(buffer.getvalue())
        except PreprocessError:
            continue
        for digit in page.digits:
            assert digit.image.shape == (28, 28)
            x0, y0, x1, y1 = digit.box
            assert 0 <= x0 <= x1 <= width
            assert 0 <= y0 <= y1 <= height
