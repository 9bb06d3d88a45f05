"""`to_mnist` case by case: formats and modes, lighting, polarity, clutter, framing, refusals.

Each photo here is drawn from a real MNIST test digit, so the expected output is known: the
digit itself in MNIST framing. Similarity is the Pearson correlation of the two 28x28 images.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from model.serving.photo.framing import STROKE_REL, STROKE_WIDE, frame
from model.serving.preprocess import MNIST_BOX, PreprocessError, to_mnist
from testkit.drawn import encode, render, shifted_similarity, stroke_width
from testkit.synth import DISTORTIONS, make_photo
from testkit.synth_glyphs import draw_glyph, small_loop_glyph


def assert_like(result: np.ndarray, digit: np.ndarray, minimum: float = 0.9) -> None:
    """The output is the digit, up to a 1 px shift (the model learns with shifts)."""
    assert result.shape == (28, 28)
    assert result.dtype == np.uint8
    assert shifted_similarity(result, digit, 1) >= minimum


# --- MNIST framing -----------------------------------------------------------------------


def test_mnist_round_trip_is_essentially_unchanged(digits):
    """Unchanged up to centring: where MNIST's own centring hit the frame, a 1 px shift."""
    results = np.stack([to_mnist(Image.fromarray(d)) for d in digits])
    differences = np.abs(results.astype(int) - digits).mean(axis=(1, 2))
    assert np.median(differences) < 2.0
    for result, original in zip(results, digits, strict=True):
        assert shifted_similarity(result, original, 1) > 0.95


def test_photo_output_has_mnist_framing(digit):
    result = to_mnist(encode(render(digit, height_frac=0.6, centre=(0.3, 0.7))))
    rows, cols = np.nonzero(result > 10)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (MNIST_BOX - 1, MNIST_BOX, MNIST_BOX + 1)
    centre = ndimage.center_of_mass(result.astype(float))
    assert abs(centre[0] - 14) <= 1
    assert abs(centre[1] - 14) <= 1
    assert result.max() == 255


# --- formats and modes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode", "params"),
    [
        ("JPEG", "RGB", {"quality": 85}),
        ("JPEG", "L", {}),
        ("JPEG", "CMYK", {}),
        ("PNG", "RGB", {}),
        ("PNG", "L", {}),
        ("PNG", "P", {}),
        ("PNG", "LA", {}),
        ("WEBP", "RGB", {"quality": 80}),
        ("GIF", "P", {}),
        ("BMP", "RGB", {}),
        ("TIFF", "RGB", {}),
        ("TIFF", "CMYK", {}),
        ("TIFF", "I;16", {}),
    ],
)
def test_formats_and_modes(digit, fmt, mode, params):
    photo = encode(render(digit), fmt, mode, **params)
    assert Image.open(io.BytesIO(photo)).format == fmt
    assert_like(to_mnist(photo), digit)


def test_sixteen_bit_grayscale_png(digit):
    pixels = render(digit).mean(axis=2)
    image = Image.fromarray((pixels * 257).astype(np.uint16))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode.startswith("I")
    assert_like(to_mnist(buffer.getvalue()), digit)


@pytest.mark.parametrize("mode", ["I", "F", "RGBA", "YCbCr"])
def test_opened_images_in_other_modes(digit, mode):
    image = Image.fromarray(render(digit).astype(np.uint8))
    image = image.convert("L").convert(mode) if mode in ("I", "F") else image.convert(mode)
    assert_like(to_mnist(image), digit)


def test_bilevel_png(digit):
    """Mode 1 (a fax or a thresholded scan), thresholded rather than dithered."""
    buffer = io.BytesIO()
    Image.fromarray(render(digit).mean(axis=2) > 128).save(buffer, format="PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "1"
    assert_like(to_mnist(buffer.getvalue()), digit)


def test_gif_uses_the_first_frame(digit, digits):
    first, second = (
        Image.fromarray(render(d).astype(np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
        for d in (digit, digits[1])
    )
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 2
    assert_like(to_mnist(buffer.getvalue()), digit)


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(digit, orientation, stored):
    """Phones store the sensor's pixels and say in EXIF how to turn them upright."""
    upright = Image.fromarray(render(digit).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    upright.transpose(stored).save(buffer, format="JPEG", exif=exif.tobytes())
    assert_like(to_mnist(buffer.getvalue()), digit)


@pytest.mark.parametrize("ink", ["dark", "light"])
def test_transparent_background_is_paper(digit, ink):
    """A drawing app's PNG: opaque strokes on a transparent background, in either colour."""
    rgba = np.zeros((300, 300, 4), np.uint8)
    alpha = np.asarray(Image.fromarray(digit).resize((300, 300), Image.Resampling.BICUBIC))
    rgba[..., :3] = 20 if ink == "dark" else 240
    rgba[..., 3] = alpha
    assert_like(to_mnist(encode(rgba, "PNG", "RGBA")), digit)


# --- polarity, lighting, ink ------------------------------------------------------------


def test_light_ink_on_dark_screen(digit):
    screenshot = render(digit, paper=25.0, ink=(250.0, 250.0, 250.0))
    assert_like(to_mnist(encode(screenshot, "PNG")), digit)


def test_lighting_gradient_across_the_page(digit):
    def gradient(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        ramp = np.linspace(0.35, 1.0, page.shape[1], dtype=np.float32)
        return page * ramp[None, :, None]

    photo = render(digit, scene=gradient)
    shaded = photo * np.linspace(0.4, 1.0, photo.shape[1], dtype=np.float32)[None, :, None]
    assert_like(to_mnist(encode(shaded)), digit)


def test_hard_shadow_across_the_digit(digit):
    photo = render(digit, height_frac=0.5)
    y, x = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    shadow = np.where(x + 0.5 * y > 330, 0.5, 1.0).astype(np.float32)
    assert_like(to_mnist(encode(photo * shadow[..., None])), digit)


@pytest.mark.parametrize(
    "ink", [(20.0, 40.0, 170.0), (150.0, 150.0, 150.0), (170.0, 25.0, 30.0)], ids=str
)
def test_blue_pen_pencil_and_red_pen(digit, ink):
    assert_like(to_mnist(encode(render(digit, ink=ink))), digit)


def test_noise_blur_and_low_jpeg_quality(digit):
    rng = np.random.default_rng(3)
    photo = ndimage.gaussian_filter(render(digit), (1.5, 1.5, 0)) + rng.normal(0, 10, (480, 640, 3))
    assert_like(to_mnist(encode(photo, quality=40)), digit)


# --- where the digit is, and how big -----------------------------------------------------


@pytest.mark.parametrize(
    "centre", [(0.2, 0.25), (0.8, 0.25), (0.2, 0.75), (0.8, 0.75), (0.5, 0.5)], ids=str
)
def test_digit_anywhere_in_the_frame(digit, centre):
    assert_like(to_mnist(encode(render(digit, height_frac=0.3, centre=centre))), digit)


@pytest.mark.parametrize("height_frac", [0.05, 0.1, 0.25, 0.5, 0.8, 1.0])
def test_digit_from_5_to_100_percent_of_the_frame(digit, height_frac):
    photo = render(digit, size=(1280, 960), height_frac=height_frac)
    assert_like(to_mnist(encode(photo)), digit, 0.85 if height_frac == 1.0 else 0.9)


@pytest.fixture(scope="module")
def mnist_strokes(mnist) -> tuple[float, float]:
    """Where 80% of MNIST's training digits' stroke widths lie (10th to 90th percentile); the
    training split is ordered by writer, so all of it is measured."""
    widths = [stroke_width(image) for image in mnist.train_images]
    low, high = np.percentile(widths, [10, 90])
    return float(low), float(high)


def test_the_stroke_widths_aimed_at_are_mnists(mnist_strokes, mnist):
    """The framing's constants are MNIST's own, measured as the framing measures."""
    widths = [stroke_width(image) for image in mnist.train_images]
    assert abs(STROKE_REL - float(np.median(widths))) <= 0.003
    assert abs(STROKE_WIDE - mnist_strokes[1]) <= 0.003


def test_hairline_strokes_are_thickened(digit, mnist_strokes):
    """A thin ballpoint on a big photo: the output's strokes are as wide as MNIST's.

    Thickening a hairline cannot give back the writer's exact stroke shapes, hence the looser
    match (the digit's skeleton, not its outline, is what survives).
    """
    photo = render(digit, size=(1280, 960), height_frac=0.6, thin=True)
    result = to_mnist(encode(photo))
    assert mnist_strokes[0] <= stroke_width(result) <= mnist_strokes[1]
    assert shifted_similarity(result, digit, 2) >= 0.75


def _holes(image: np.ndarray) -> int:
    """Pieces of background (4-connected, below half the ink) that do not reach the edge."""
    labels, count = ndimage.label(image < 128)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return count - np.count_nonzero(edge)


@pytest.mark.parametrize("loop", [0.14, 0.16, 0.2])
def test_thickening_a_thin_pen_keeps_a_small_loop_open(loop):
    """A 9 whose loop is a sixth of its height, drawn with a pen a fiftieth to a twenty-fifth
    of it: brought to MNIST's stroke width, the loop stays a loop (the writer left it open
    for their pen; a wider pen would have drawn it wider)."""
    rng = np.random.default_rng(6)
    for pen in (0.015, 0.02, 0.03, 0.04):
        nine = small_loop_glyph(9, rng, loop)
        coverage = draw_glyph(nine, 200, 200 * pen, 0.0)
        assert _holes(frame(coverage, coverage > 0.05, 0.0)) == 1, pen


def test_marker_strokes_are_thinned(digit, mnist_strokes):
    photo = render(digit, height_frac=0.5)
    thick = 255 - ndimage.grey_dilation(255 - photo, size=(17, 17, 1))
    result = to_mnist(encode(thick))
    # Within MNIST's range, to a quarter of an output pixel.
    assert mnist_strokes[0] <= stroke_width(result) <= mnist_strokes[1] + 0.0125
    assert_like(result, digit, 0.7)


# --- paper and clutter that is not the digit -----------------------------------------------


def _ruled(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    y = np.arange(page.shape[0])[:, None]
    x = np.arange(page.shape[1])[None, :]
    lines = ((y + 0.03 * x) % 36 < 2)[..., None]
    margin = (np.abs(x - 70) < 2)[..., None] & np.ones_like(lines)
    page = np.where(lines, np.array([120, 150, 200], np.float32), page)
    return np.where(margin, np.array([210, 80, 80], np.float32), page)


def _squared(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    y = np.arange(page.shape[0])[:, None]
    x = np.arange(page.shape[1])[None, :]
    grid = ((y % 24 < 2) | (x % 24 < 2))[..., None]
    return np.where(grid, np.array([140, 160, 190], np.float32), page)


def _specks(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(5)
    spots = np.zeros(page.shape[:2], bool)
    for y, x in rng.integers(0, [page.shape[0], page.shape[1]], (25, 2)):
        if alpha[max(0, y - 30) : y + 30, max(0, x - 30) : x + 30].max() == 0:
            spots[y : y + 3, x : x + 3] = True
    return np.where(spots[..., None], np.float32(40), page)


def _box(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(alpha > 0.1)
    top, bottom, left, right = rows.min() - 40, rows.max() + 40, cols.min() - 50, cols.max() + 50
    frame = np.zeros(page.shape[:2], bool)
    frame[top : bottom + 1, left : left + 3] = frame[top : bottom + 1, right - 2 : right + 1] = True
    frame[top : top + 3, left : right + 1] = frame[bottom - 2 : bottom + 1, left : right + 1] = True
    return np.where(frame[..., None], np.float32(35), page)


def _table(page: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The page ends at x ≈ 500 (slightly tilted); a wooden table fills the rest."""
    y, x = np.mgrid[0 : page.shape[0], 0 : page.shape[1]]
    wood = np.stack([110 + 15 * np.sin(x / 5.0 + y / 60.0)] * 3, axis=-1) * [1.0, 0.7, 0.45]
    return np.where((x > 500 + 0.1 * y)[..., None], wood.astype(np.float32), page)


@pytest.mark.parametrize(
    "scene", [_ruled, _squared, _specks, _box, _table], ids=lambda f: f.__name__
)
def test_paper_clutter_is_not_the_digit(digit, scene):
    clean = to_mnist(encode(render(digit, height_frac=0.4, centre=(0.45, 0.5))))
    cluttered = to_mnist(encode(render(digit, height_frac=0.4, centre=(0.45, 0.5), scene=scene)))
    assert shifted_similarity(cluttered, clean, 1) >= 0.85
    assert_like(cluttered, digit)


@pytest.mark.parametrize(("label", "cut_at"), [(5, 0.25), (4, 0.3), (7, 0.3)])
def test_digit_in_pieces_is_kept_whole(mnist, label, cut_at):
    """A 5 whose top bar is drawn apart from its body, a 4 whose arms do not meet its crossbar,
    a 7 whose bar floats above its stem: every piece belongs to the digit."""
    piece = mnist.test_images[np.flatnonzero(mnist.test_labels == label)[0]].copy()
    rows = np.flatnonzero(piece.max(axis=1) > 0)
    cut = rows[0] + round(cut_at * len(rows))
    piece[cut : cut + 2] = 0
    pieces = ndimage.label(piece > 0)[1]
    assert pieces >= 2
    result = to_mnist(encode(render(piece, height_frac=0.5)))
    assert ndimage.label(result > 60)[1] >= 2
    # Its strokes are brought to MNIST's median width: a thick digit comes out thinner.
    assert_like(result, piece, 0.85)
    assert_like(to_mnist(Image.fromarray(piece)), piece)


# --- refusals, each with its own message ---------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` pixels, with almost no data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _refusal(data: bytes | Image.Image, **kwargs) -> str:
    with pytest.raises(PreprocessError) as caught:
        to_mnist(data, **kwargs)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_refusals_have_distinct_actionable_messages():
    rng = np.random.default_rng(0)
    blank = np.full((480, 640, 3), 228.0) + rng.normal(0, 3, (480, 640, 3))
    wall = ndimage.gaussian_filter(rng.normal(180, 25, (480, 640)), 6)[..., None].repeat(3, 2)
    messages = {
        "blank": _refusal(encode(blank)),
        "wall": _refusal(encode(wall)),
        "tiny": _refusal(encode(np.full((12, 14, 3), 200.0), "PNG")),
        "limit": _refusal(encode(blank, "PNG"), max_pixels=100_000),
        "bomb": _refusal(_png_header(30_000, 30_000)),
        "pillow_bomb": _refusal(_png_header(30_000, 30_000), max_pixels=10**12),
        "text": _refusal(b"hello, this is not a picture"),
        "empty": _refusal(b""),
        "truncated": _refusal(encode(blank)[:5000]),
    }
    assert messages["blank"] == messages["wall"]
    assert "digit" in messages["blank"]
    assert "14x12" in messages["tiny"]
    assert "16" in messages["tiny"]
    assert "100,000" in messages["limit"]
    assert "smaller" in messages["bomb"]
    assert "smaller" in messages["pillow_bomb"]
    kinds = {messages[k] for k in ("blank", "tiny", "limit", "pillow_bomb", "text", "truncated")}
    assert len(kinds) == 6
    assert all(message.endswith(".") for message in messages.values())


# --- the generator itself -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DISTORTIONS))
def test_synthetic_photos_are_seeded_and_readable(digit, kind):
    first = make_photo(digit, np.random.default_rng(7), kind)
    again = make_photo(digit, np.random.default_rng(7), kind)
    assert first == again
    width, height = Image.open(io.BytesIO(first)).size
    if kind == "tight_crop":
        assert width * height < 640 * 480
    elif kind == "hairline_4k":
        assert {width, height} == {3000, 4000}
    else:
        assert {width, height} == {640, 480}
    assert to_mnist(first).max() == 255


def test_a_speck_barely_above_the_paper_is_framed():
    """A one-pixel piece whose ink nowhere reaches half its level (seen on a tight crop of a
    synthetic photo, where it crashed the framing) is framed, not an IndexError."""
    image = frame(np.array([[0.3003]], np.float32), np.array([[True]]), 0.3)
    assert image.shape == (28, 28)
    assert image.dtype == np.uint8
    assert image.max() == 255
