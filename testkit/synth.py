"""Seeded photo-like images of MNIST digits, to measure `to_mnist` without real photos.

Every photo starts from the same base (the digit at a random size, position and ±15° rotation,
drawn in dark ink on slightly textured off-white paper, mildly lit and noisy, saved as JPEG) and
then leans hard on one kind of trouble, so a benchmark can report agreement per kind.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from model.serving.photo.box import Box
from model.serving.photo.framing import fit_and_centre
from testkit.synth_page import (
    Scene,
    cast_shadow,
    darken_corners,
    draw_box,
    draw_ruled,
    draw_specks,
    draw_squared,
    draw_table,
    light_field,
    warp_perspective,
)

CANVAS = (640, 480)


def _lighting(scene: Scene) -> None:
    scene.light = scene.rng.uniform(0.45, 0.65)


def _shadow(scene: Scene) -> None:
    scene.overlays.append(cast_shadow)


def _ink_colour(scene: Scene) -> None:
    colours = np.array([[20, 40, 170], [30, 30, 120], [170, 25, 30], [20, 110, 40], [60, 60, 70]])
    scene.ink = colours[scene.rng.integers(len(colours))].astype(np.float32)


def _pencil(scene: Scene) -> None:
    scene.ink = np.full(3, 90.0, np.float32)
    scene.ink_strength = scene.rng.uniform(0.35, 0.6)
    scene.noise = 5.0


def _thin_pen(scene: Scene) -> None:
    scene.stroke = "thin"
    scene.digit_frac = scene.rng.uniform(0.35, 0.7)


def _marker(scene: Scene) -> None:
    scene.stroke = "thick"


def _blur_noise(scene: Scene) -> None:
    scene.blur = scene.rng.uniform(1.5, 3.0)
    scene.noise = scene.rng.uniform(8.0, 14.0)


def _perspective(scene: Scene) -> None:
    scene.warps.append(warp_perspective)


def _jpeg(scene: Scene) -> None:
    scene.quality = int(scene.rng.integers(40, 61))


def _ruled(scene: Scene) -> None:
    scene.under.append(draw_ruled)


def _squared(scene: Scene) -> None:
    scene.under.append(draw_squared)


def _specks(scene: Scene) -> None:
    scene.overlays.append(draw_specks)


def _small(scene: Scene) -> None:
    scene.digit_frac = scene.rng.uniform(0.12, 0.2)
    scene.stroke = "thin"


def _large(scene: Scene) -> None:
    scene.digit_frac = scene.rng.uniform(0.8, 0.95)


def _dark_screen(scene: Scene) -> None:
    scene.dark = True
    scene.light = 0.0
    scene.noise = 0.0
    scene.blur = 0.0


def _boxed(scene: Scene) -> None:
    scene.overlays.append(draw_box)


def _paper_edge(scene: Scene) -> None:
    scene.overlays.append(draw_table)


def _tight_crop(scene: Scene) -> None:
    scene.crop = True


def _close_up(scene: Scene) -> None:
    scene.digit_frac = scene.rng.uniform(0.9, 1.0)
    scene.stroke = "thin" if scene.rng.random() < 0.5 else "normal"


def _textured_card(scene: Scene) -> None:
    cards = np.array([[235, 215, 90], [150, 205, 150], [240, 170, 190], [170, 200, 235]])
    inks = np.array([[30, 120, 50], [20, 40, 170], [40, 40, 45], [170, 30, 40]])
    scene.paper = cards[scene.rng.integers(len(cards))].astype(np.float32)
    scene.ink = inks[scene.rng.integers(len(inks))].astype(np.float32)
    scene.texture = scene.rng.uniform(0.04, 0.08)
    scene.stroke = "thick"


def _grid_pencil(scene: Scene) -> None:
    _pencil(scene)
    scene.ink_strength = scene.rng.uniform(0.3, 0.45)
    scene.under.append(draw_squared)


def _small_on_grid(scene: Scene) -> None:
    """A small digit in faint pencil on squared paper whose lines break up in the photo: the
    grid's pieces are as large as the digit's strokes."""
    _grid_pencil(scene)
    scene.digit_frac = scene.rng.uniform(0.12, 0.25)


def _dark_corners(scene: Scene) -> None:
    """Grey paper, dark corners, the digit large: a phone held close under a lamp."""
    scene.paper = scene.paper - scene.rng.uniform(20, 50)
    scene.digit_frac = scene.rng.uniform(0.4, 0.9)
    scene.stroke = "thin" if scene.rng.random() < 0.5 else "normal"
    scene.overlays.append(darken_corners)


def _hairline_4k(scene: Scene) -> None:
    scene.size = (3000, 4000) if scene.size[0] < scene.size[1] else (4000, 3000)
    scene.digit_frac = scene.rng.uniform(0.15, 0.35)
    scene.stroke = "hairline"


DISTORTIONS: dict[str, Callable[[Scene], None]] = {
    "plain": lambda scene: None,
    "lighting": _lighting,
    "shadow": _shadow,
    "ink_colour": _ink_colour,
    "pencil": _pencil,
    "thin_pen": _thin_pen,
    "marker": _marker,
    "blur_noise": _blur_noise,
    "perspective": _perspective,
    "jpeg_40_60": _jpeg,
    "ruled": _ruled,
    "squared": _squared,
    "specks": _specks,
    "small": _small,
    "large": _large,
    "dark_screen": _dark_screen,
    "boxed": _boxed,
    "paper_edge": _paper_edge,
    "tight_crop": _tight_crop,
    "close_up": _close_up,
    "textured_card": _textured_card,
    "grid_pencil": _grid_pencil,
    "hairline_4k": _hairline_4k,
    "dark_corners": _dark_corners,
    "small_on_grid": _small_on_grid,
}
"""Distortion kinds, each a function that edits the base scene."""


def europeanise(digit: np.ndarray, label: int) -> np.ndarray:
    """A 1 with the long up-stroke (flag) and a 7 with the bar that European writers add.

    Parameters
    ----------
    digit : ndarray of shape (28, 28), uint8
        A white-on-black MNIST 1 or 7.
    label : int
        1 or 7.
    """
    if label not in (1, 7):
        raise ValueError(f"only 1s and 7s are written the European way, not {label}")
    image = Image.fromarray(digit.copy())
    rows, cols = np.nonzero(digit > 128)
    draw = ImageDraw.Draw(image)
    if label == 1:
        top = int(rows.min())
        x = float(cols[rows == top].mean())
        draw.line([(x, top), (x - 6, top + 7)], fill=255, width=2)
    else:
        middle = (int(rows.min()) + int(rows.max())) // 2 + 1
        x = float(cols[np.abs(rows - middle) <= 1].mean())
        draw.line([(x - 4, middle), (x + 4, middle)], fill=255, width=2)
    return np.asarray(image)


def with_base(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 with the base much of Europe and Asia writes, 60-120% of its height wide, and half
    the time a flag, framed again as MNIST frames a digit.

    Parameters
    ----------
    digit : ndarray of shape (28, 28), uint8
        A white-on-black MNIST 1.
    rng : numpy.random.Generator
    """
    image = Image.fromarray(digit.copy())
    rows, cols = np.nonzero(digit > 128)
    top, bottom = int(rows.min()), int(rows.max())
    height = bottom - top + 1
    draw = ImageDraw.Draw(image)
    x = float(cols[rows == bottom].mean())
    half = rng.uniform(0.3, 0.6) * height
    shift = rng.uniform(-0.2, 0.2) * half
    draw.line([(x - half + shift, bottom), (x + half + shift, bottom)], fill=255, width=2)
    if rng.random() < 0.5:
        x_top = float(cols[rows == top].mean())
        reach = rng.uniform(0.2, 0.45) * height
        draw.line([(x_top, top), (x_top - reach, top + 0.8 * reach)], fill=255, width=2)
    return fit_and_centre(np.asarray(image, np.float32) / 255.0)


def random_scene(rng: np.random.Generator, paper_shade: float) -> Scene:
    """A photo's canvas (landscape or portrait), digit size, paper and ink, and JPEG quality,
    drawn from `rng`; the paper is up to `paper_shade` levels darker than white paper."""
    size = CANVAS if rng.random() < 0.5 else CANVAS[::-1]
    return Scene(
        rng=rng,
        size=size,
        digit_frac=rng.uniform(0.3, 0.7),
        paper=np.array([245, 242, 232], np.float32) - rng.uniform(0, paper_shade),
        ink=np.array([25, 25, 35], np.float32) + rng.uniform(0, 20),
        quality=int(rng.integers(70, 96)),
    )


def make_photo(digit: np.ndarray, rng: np.random.Generator, distortion: str = "plain") -> bytes:
    """Render an MNIST digit as an encoded photo-like image (JPEG; PNG for a dark screen).

    Parameters
    ----------
    digit : ndarray of shape (28, 28), uint8
        White-on-black MNIST image.
    rng : numpy.random.Generator
        Source of every random choice, so a seed reproduces the photo.
    distortion : str
        One of `DISTORTIONS`.
    """
    if distortion not in DISTORTIONS:
        raise ValueError(f"unknown distortion {distortion!r}; choose from {sorted(DISTORTIONS)}")
    scene = random_scene(rng, paper_shade=25)
    DISTORTIONS[distortion](scene)
    return _render(scene, digit)


def _render(scene: Scene, digit: np.ndarray) -> bytes:
    alpha, box = _place_digit(scene, digit)
    if scene.stroke == "hairline" and not scene.dark:
        return _render_hairline(scene, digit)
    return render_scene(scene, alpha, box)


def render_scene(scene: Scene, alpha: np.ndarray, box: Box) -> bytes:
    """The photo of ink `alpha` (coverage (H, W) in [0, 1] at the scene's size, the digit's
    `box`) on the scene's paper, light and camera."""
    rng = scene.rng
    width, height = scene.size
    if scene.dark:
        background = np.array([30, 30, 40], np.float32) + rng.uniform(0, 30)
        colour = np.array([250, 250, 250], np.float32)
        image = background * (1 - alpha[..., None]) + colour * alpha[..., None]
        out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
        return buffer.getvalue()
    texture = ndimage.zoom(rng.normal(0, 1, (height // 16 + 1, width // 16 + 1)), 16, order=1)
    if scene.texture > 0.02:
        fibres = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), (0.8, 3.0))
        texture = texture[:height, :width] + 1.5 * fibres
    paper = scene.paper * (1 + scene.texture * texture[:height, :width, None])
    for draw in scene.under:
        paper = draw(scene, paper)
    strength = alpha[..., None] * scene.ink_strength
    image = paper * (1 - strength) + scene.ink * strength
    for overlay in scene.overlays:
        image = overlay(scene, image, box)
    image = image * light_field(rng, height, width, scene.light)[..., None]
    out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    for warp in scene.warps:
        out = warp(scene, out)
    pixels = np.asarray(out, np.float32)
    if scene.blur > 0:
        pixels = ndimage.gaussian_filter(pixels, (scene.blur, scene.blur, 0))
    pixels = pixels + rng.normal(0, scene.noise, pixels.shape).astype(np.float32)
    if scene.crop:
        pixels = pixels[box.slices]
    return _jpeg_bytes(pixels, scene.quality)


def _jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


def _render_hairline(scene: Scene, digit: np.ndarray) -> bytes:
    """A ballpoint's hairline on a phone's full 12-megapixel photo. The lit, textured page is
    made at a sixteenth of the pixels and enlarged (it is smooth); only the digit's box is
    drawn at full size, with the pen's 2-3 px stroke."""
    rng = scene.rng
    width, height = scene.size
    small = (width // 4, height // 4)
    texture = ndimage.zoom(rng.normal(0, 1, (small[1] // 8 + 1, small[0] // 8 + 1)), 8, order=1)
    light = light_field(rng, small[1], small[0], scene.light)
    page = scene.paper * ((1 + 0.02 * texture[: small[1], : small[0]]) * light)[..., None]
    page += rng.normal(0, scene.noise, page.shape)
    canvas = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    pixels = np.array(canvas.resize(scene.size, Image.Resampling.BILINEAR))
    side = round(scene.digit_frac * min(width, height) * 28 / 20)
    fine = Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC)
    fine = fine.rotate(rng.uniform(-15, 15), Image.Resampling.BILINEAR, expand=True)
    line = Image.fromarray(_skeleton(np.asarray(fine) > 128).astype(np.float32))
    big = np.asarray(line.resize((side * fine.width // 112,) * 2, Image.Resampling.BILINEAR))
    coverage = np.clip(ndimage.gaussian_filter(big, 0.8) * 6.0, 0, 1)[..., None]
    ch, cw = coverage.shape[:2]
    top = int(rng.integers(0, height - ch + 1))
    left = int(rng.integers(0, width - cw + 1))
    region = pixels[top : top + ch, left : left + cw].astype(np.float32)
    pixels[top : top + ch, left : left + cw] = region * (1 - coverage) + scene.ink * coverage
    return _jpeg_bytes(pixels, scene.quality)


def _skeleton(binary: np.ndarray) -> np.ndarray:
    """The strokes' middle lines (Lantuéjoul's morphological skeleton): what a fine pen
    draws of a digit MNIST wrote with a thick one."""
    skeleton = np.zeros_like(binary)
    while binary.any():
        skeleton |= binary & ~ndimage.binary_opening(binary)
        binary = ndimage.binary_erosion(binary)
    # Its lone specks are the method's, not the pen's.
    labels, count = ndimage.label(skeleton, np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    return (sizes >= 8)[labels] & skeleton


def _place_digit(scene: Scene, digit: np.ndarray) -> tuple[np.ndarray, Box]:
    """Ink coverage (H, W) in [0, 1] and the digit's box."""
    rng = scene.rng
    width, height = scene.size
    side = max(12, round(scene.digit_frac * min(width, height) * 28 / 20))
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    big = big.rotate(rng.uniform(-15, 15), Image.Resampling.BILINEAR, expand=True)
    coverage = np.asarray(big, np.float32) / 255.0
    if scene.stroke == "thin":
        core = ndimage.binary_erosion(coverage > 0.5, iterations=max(1, side // 40))
        coverage = ndimage.gaussian_filter(core.astype(np.float32), 0.7)
        coverage = np.clip(coverage * 1.8, 0, 1)
    elif scene.stroke == "thick":
        coverage = ndimage.grey_dilation(coverage, size=(max(3, side // 14),) * 2)
    rows = np.flatnonzero(coverage.max(axis=1) > 0.1)
    cols = np.flatnonzero(coverage.max(axis=0) > 0.1)
    coverage = coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    ch, cw = coverage.shape
    ch, cw = min(ch, height), min(cw, width)
    coverage = coverage[:ch, :cw]
    top = int(rng.integers(0, height - ch + 1))
    left = int(rng.integers(0, width - cw + 1))
    alpha = np.zeros((height, width), np.float32)
    alpha[top : top + ch, left : left + cw] = coverage
    return alpha, Box(left, top, left + cw, top + ch)
