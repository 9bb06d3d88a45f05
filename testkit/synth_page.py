"""The page a synthetic photo is drawn on: what a scene is made of, the light, and what lies
on the paper besides the digit (lines, grids, specks, a box, the table beyond its edge, a
shadow, the camera's angle). `testkit.synth` composes them into photos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from model.serving.photo.box import Box


@dataclass
class Scene:
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
    crop: bool = False
    """Cut the photo to the digit's box, as Telegram's crop tool or a form's cell does."""
    texture: float = 0.02
    overlays: list[Callable[[Scene, np.ndarray, Box], np.ndarray]] = field(default_factory=list)
    warps: list[Callable[[Scene, Image.Image], Image.Image]] = field(default_factory=list)
    under: list[Callable[[Scene, np.ndarray], np.ndarray]] = field(default_factory=list)


def light_field(rng: np.random.Generator, height: int, width: int, amount: float) -> np.ndarray:
    """A linear gradient in a random direction plus vignetting: 1 - amount at the darkest."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height) + 1
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    radius = np.hypot(x / width - 0.5, y / height - 0.5) / 0.7071
    return 1 - amount * (0.7 * ramp + 0.3 * radius**2)


def darken_corners(scene: Scene, image: np.ndarray, box: Box) -> np.ndarray:
    """A phone's vignetting up close: the light falls off from a point near the centre to
    35-60% of it in the corners, and to half of it at the nearest edges."""
    rng = scene.rng
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = height * rng.uniform(0.3, 0.7), width * rng.uniform(0.3, 0.7)
    radius = np.hypot((y - cy) / height, (x - cx) / width) / 0.7071
    falloff = rng.uniform(0.4, 0.65) * np.clip(radius, 0, 1) ** rng.uniform(1.5, 3.0)
    return image * (1 - falloff)[..., None]


def cast_shadow(scene: Scene, image: np.ndarray, box: Box) -> np.ndarray:
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


def warp_perspective(scene: Scene, image: Image.Image) -> Image.Image:
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


def draw_ruled(scene: Scene, paper: np.ndarray) -> np.ndarray:
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


def draw_squared(
    scene: Scene,
    paper: np.ndarray,
    *,
    spacing: float | None = None,
    tilt: float | None = None,
    through: float | None = None,
) -> np.ndarray:
    """Squared (graph) paper: a grey-blue grid, 5 mm squares at photo scale, unless told its
    `spacing` (pixels), `tilt` (degrees) and a coordinate its lines pass `through` (a
    column for the vertical lines, a row for the horizontal ones)."""
    rng = scene.rng
    height, width = paper.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if spacing is None:
        spacing = rng.uniform(0.04, 0.08) * height
    slope = np.tan(np.deg2rad(rng.uniform(-2, 2) if tilt is None else tilt))
    shift = 0.0 if through is None else spacing / 2 - through
    rows = np.abs((y + slope * x + shift) % spacing - spacing / 2)
    cols = np.abs((x - slope * y + shift) % spacing - spacing / 2)
    line = np.clip(1.2 - np.minimum(rows, cols), 0, 1) * rng.uniform(0.35, 0.7)
    grid = np.array([130, 150, 180], np.float32)
    return paper * (1 - line[..., None]) + grid * line[..., None]


def draw_specks(scene: Scene, image: np.ndarray, box: Box) -> np.ndarray:
    """Dust, crumbs and pen dots away from the digit."""
    rng = scene.rng
    height, width = image.shape[:2]
    left, top, right, bottom = box
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(5, 25))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        if top - 10 < cy < bottom + 10 and left - 10 < cx < right + 10:
            continue
        radius = rng.uniform(0.8, 3.5)
        dot = np.clip(radius + 0.5 - np.hypot(y - cy, x - cx), 0, 1)[..., None]
        image = image * (1 - dot) + scene.ink * dot
    return image


def draw_box(scene: Scene, image: np.ndarray, box: Box) -> np.ndarray:
    """A hand-drawn rectangle around the digit, as on a form."""
    rng = scene.rng
    height, width = image.shape[:2]
    left, top, right, bottom = box
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


def draw_table(scene: Scene, image: np.ndarray, box: Box) -> np.ndarray:
    """The paper ends before the frame does: a dark wooden table shows beyond its edge."""
    rng = scene.rng
    height, width = image.shape[:2]
    left, top, right, bottom = box
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
