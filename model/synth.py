"""Seeded photo-like images of MNIST digits, to measure `to_mnist` without real photos.

Every photo starts from the same base (the digit at a random size, position and ±15° rotation,
drawn in dark ink on slightly textured off-white paper, mildly lit and noisy, saved as JPEG) and
then leans hard on one kind of trouble, so a benchmark can report agreement per kind.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

CANVAS = (640, 480)


@dataclass
class _Scene:
    """What one photo is made of; a distortion edits it before rendering."""

    rng: np.random.Generator
    size: tuple[int, int]
    digit_frac: float
    paper: np.ndarray
    ink: np.ndarray
    ink_strength: float = 1.0
    stroke: str = "normal"
    quality: int = 90
    blur: float = 0.6
    noise: float = 3.0
    light: float = 0.15
    dark: bool = False
    overlays: list[Callable[[_Scene, np.ndarray, tuple[int, int, int, int]], np.ndarray]] = field(
        default_factory=list
    )
    warps: list[Callable[[_Scene, Image.Image], Image.Image]] = field(default_factory=list)
    under: list[Callable[[_Scene, np.ndarray], np.ndarray]] = field(default_factory=list)


def _lighting(scene: _Scene) -> None:
    scene.light = scene.rng.uniform(0.45, 0.65)


def _shadow(scene: _Scene) -> None:
    scene.overlays.append(_cast_shadow)


def _ink_colour(scene: _Scene) -> None:
    colours = np.array([[20, 40, 170], [30, 30, 120], [170, 25, 30], [20, 110, 40], [60, 60, 70]])
    scene.ink = colours[scene.rng.integers(len(colours))].astype(np.float32)


def _pencil(scene: _Scene) -> None:
    scene.ink = np.full(3, 90.0, np.float32)
    scene.ink_strength = scene.rng.uniform(0.35, 0.6)
    scene.noise = 5.0


def _thin_pen(scene: _Scene) -> None:
    scene.stroke = "thin"
    scene.digit_frac = scene.rng.uniform(0.35, 0.7)


def _marker(scene: _Scene) -> None:
    scene.stroke = "thick"


def _blur_noise(scene: _Scene) -> None:
    scene.blur = scene.rng.uniform(1.5, 3.0)
    scene.noise = scene.rng.uniform(8.0, 14.0)


def _perspective(scene: _Scene) -> None:
    scene.warps.append(_warp_perspective)


def _jpeg(scene: _Scene) -> None:
    scene.quality = int(scene.rng.integers(40, 61))


def _ruled(scene: _Scene) -> None:
    scene.under.append(_draw_ruled)


def _squared(scene: _Scene) -> None:
    scene.under.append(_draw_squared)


def _specks(scene: _Scene) -> None:
    scene.overlays.append(_draw_specks)


def _small(scene: _Scene) -> None:
    scene.digit_frac = scene.rng.uniform(0.12, 0.2)
    scene.stroke = "thin"


def _large(scene: _Scene) -> None:
    scene.digit_frac = scene.rng.uniform(0.8, 0.95)


def _dark_screen(scene: _Scene) -> None:
    scene.dark = True
    scene.light = 0.0
    scene.noise = 0.0
    scene.blur = 0.0


def _boxed(scene: _Scene) -> None:
    scene.overlays.append(_draw_box)


def _paper_edge(scene: _Scene) -> None:
    scene.overlays.append(_draw_table)


DISTORTIONS: dict[str, Callable[[_Scene], None]] = {
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
}
"""Distortion kinds, each a function that edits the base scene."""


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
    size = CANVAS if rng.random() < 0.5 else CANVAS[::-1]
    scene = _Scene(
        rng=rng,
        size=size,
        digit_frac=rng.uniform(0.3, 0.7),
        paper=np.array([245, 242, 232], np.float32) - rng.uniform(0, 25),
        ink=np.array([25, 25, 35], np.float32) + rng.uniform(0, 20),
        quality=int(rng.integers(70, 96)),
    )
    DISTORTIONS[distortion](scene)
    return _render(scene, digit)


def _render(scene: _Scene, digit: np.ndarray) -> bytes:
    rng = scene.rng
    width, height = scene.size
    alpha, box = _place_digit(scene, digit)
    if scene.dark:
        background = np.array([30, 30, 40], np.float32) + rng.uniform(0, 30)
        colour = np.array([250, 250, 250], np.float32)
        image = background * (1 - alpha[..., None]) + colour * alpha[..., None]
        out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
        return buffer.getvalue()
    texture = ndimage.zoom(rng.normal(0, 1, (height // 16 + 1, width // 16 + 1)), 16, order=1)
    paper = scene.paper * (1 + 0.02 * texture[:height, :width, None])
    for draw in scene.under:
        paper = draw(scene, paper)
    strength = alpha[..., None] * scene.ink_strength
    image = paper * (1 - strength) + scene.ink * strength
    for overlay in scene.overlays:
        image = overlay(scene, image, box)
    image = image * _light_field(rng, height, width, scene.light)[..., None]
    out = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    for warp in scene.warps:
        out = warp(scene, out)
    pixels = np.asarray(out, np.float32)
    if scene.blur > 0:
        pixels = ndimage.gaussian_filter(pixels, (scene.blur, scene.blur, 0))
    pixels = pixels + rng.normal(0, scene.noise, pixels.shape).astype(np.float32)
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, format="JPEG", quality=scene.quality)
    return buffer.getvalue()


def _place_digit(scene: _Scene, digit: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Ink coverage (H, W) in [0, 1] and the digit's box (top, bottom, left, right)."""
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
    return alpha, (top, top + ch, left, left + cw)


def _light_field(rng: np.random.Generator, height: int, width: int, amount: float) -> np.ndarray:
    """A linear gradient in a random direction plus vignetting: 1 - amount at the darkest."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height) + 1
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    radius = np.hypot(x / width - 0.5, y / height - 0.5) / 0.7071
    return 1 - amount * (0.7 * ramp + 0.3 * radius**2)


def _cast_shadow(scene: _Scene, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A hand or phone shadow: a soft-edged half-plane darkening part of the page."""
    rng = scene.rng
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(-0.2, 0.3) * min(width, height)
    distance = np.cos(angle) * (x - width / 2) + np.sin(angle) * (y - height / 2) - offset
    edge = 1 / (1 + np.exp(-distance / rng.uniform(3, 15)))
    depth = rng.uniform(0.35, 0.6)
    return image * (1 - depth * edge)[..., None]


def _warp_perspective(scene: _Scene, image: Image.Image) -> Image.Image:
    """Move each corner by up to 10% of the frame: a photo taken at an angle."""
    width, height = image.size
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    target = source + scene.rng.uniform(-0.1, 0.1, (4, 2)) * [width, height]
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    coeffs = np.linalg.solve(np.array(rows), source.reshape(-1))
    fill = tuple(int(c) for c in np.asarray(image)[0, 0])
    return image.transform(
        image.size,
        Image.Transform.PERSPECTIVE,
        coeffs.tolist(),
        Image.Resampling.BILINEAR,
        fillcolor=fill,
    )


def _draw_ruled(scene: _Scene, paper: np.ndarray) -> np.ndarray:
    """Light blue ruled lines, slightly tilted, with a red margin line."""
    rng = scene.rng
    height, width = paper.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    spacing = rng.uniform(0.06, 0.12) * height
    tilt = np.tan(np.deg2rad(rng.uniform(-3, 3)))
    phase = (y + tilt * x + rng.uniform(0, spacing)) % spacing
    line = np.clip(1.5 - np.abs(phase - spacing / 2), 0, 1) * rng.uniform(0.4, 0.8)
    blue = np.array([120, 160, 210], np.float32)
    paper = paper * (1 - line[..., None]) + blue * line[..., None]
    if rng.random() < 0.5:
        margin = rng.uniform(0.05, 0.2) * width
        red = np.clip(1.5 - np.abs(x - margin), 0, 1) * 0.7
        paper = paper * (1 - red[..., None]) + np.array([220, 90, 90], np.float32) * red[..., None]
    return paper


def _draw_squared(scene: _Scene, paper: np.ndarray) -> np.ndarray:
    """Squared (graph) paper: a grey-blue grid, 5 mm squares at photo scale."""
    rng = scene.rng
    height, width = paper.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    spacing = rng.uniform(0.04, 0.08) * height
    tilt = np.tan(np.deg2rad(rng.uniform(-2, 2)))
    rows = np.abs((y + tilt * x) % spacing - spacing / 2)
    cols = np.abs((x - tilt * y) % spacing - spacing / 2)
    line = np.clip(1.2 - np.minimum(rows, cols), 0, 1) * rng.uniform(0.35, 0.7)
    grid = np.array([130, 150, 180], np.float32)
    return paper * (1 - line[..., None]) + grid * line[..., None]


def _draw_specks(scene: _Scene, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Dust, crumbs and pen dots away from the digit."""
    rng = scene.rng
    height, width = image.shape[:2]
    top, bottom, left, right = box
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(5, 25))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        if top - 10 < cy < bottom + 10 and left - 10 < cx < right + 10:
            continue
        radius = rng.uniform(0.8, 3.5)
        dot = np.clip(radius + 0.5 - np.hypot(y - cy, x - cx), 0, 1)[..., None]
        image = image * (1 - dot) + scene.ink * dot
    return image


def _draw_box(scene: _Scene, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A hand-drawn rectangle around the digit, as on a form."""
    rng = scene.rng
    height, width = image.shape[:2]
    top, bottom, left, right = box
    pad = rng.uniform(0.15, 0.4) * max(bottom - top, right - left)
    y0, y1 = max(2, top - pad), min(height - 3, bottom + pad)
    x0, x1 = max(2, left - pad), min(width - 3, right + pad)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    thick = rng.uniform(1.5, 3.0)
    inside = (y >= y0 - thick) & (y <= y1 + thick) & (x >= x0 - thick) & (x <= x1 + thick)
    near = np.minimum(
        np.minimum(np.abs(y - y0), np.abs(y - y1)), np.minimum(np.abs(x - x0), np.abs(x - x1))
    )
    stroke = (np.clip(thick - near, 0, 1) * inside)[..., None]
    return image * (1 - stroke) + scene.ink * stroke


def _draw_table(scene: _Scene, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The paper ends before the frame does: a dark wooden table shows beyond its edge."""
    rng = scene.rng
    height, width = image.shape[:2]
    top, bottom, left, right = box
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    side = int(rng.integers(4))
    tilt = np.tan(np.deg2rad(rng.uniform(-8, 8)))
    if side == 0:
        edge, coord = rng.uniform(2, max(3, top - 5)), y + tilt * x
    elif side == 1:
        edge, coord = height - rng.uniform(2, max(3, height - bottom - 5)), -(y + tilt * x)
    elif side == 2:
        edge, coord = rng.uniform(2, max(3, left - 5)), x + tilt * y
    else:
        edge, coord = width - rng.uniform(2, max(3, width - right - 5)), -(x + tilt * y)
    if side in (1, 3):
        edge = -edge
    table = np.clip(edge - coord + 0.5, 0, 1)[..., None]
    grain = 0.15 * np.sin(x / rng.uniform(3, 9) + 3 * np.sin(y / 40))[..., None]
    wood = np.array([110, 75, 45], np.float32) * (1 + grain)
    return image * (1 - table) + wood * table
