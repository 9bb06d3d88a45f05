"""Seeded digits drawn with straight pen strokes, photographed the ways that broke `to_mnist`.

MNIST's strokes curve; a phone photo's often do not. A 1's stem, a 4's bar, a 7's top bar or
a 9's tail drawn straight and spanning most of the frame looks like a ruled line, and a stem
drawn along a line of squared paper lies on one; a 6's stem or a 9's tail off a small loop is
far longer than the rest of the digit. These glyphs (0, 1, 4, 6, 7, 8 and 9, with jittered
corners) are drawn as pen strokes at the photo's own resolution, so a thin pen stays
thin and a straight stroke stays straight; the clean reference is the same glyph drawn large
on white and put in MNIST's framing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from model.serving.photo.box import Box
from model.serving.photo.framing import STROKE_REL, frame
from testkit.synth import random_scene, render_scene
from testkit.synth_page import Scene, draw_squared

GLYPH_LABELS = (0, 1, 4, 6, 7, 8, 9)

GRID_LABELS = (0, 1, 4, 7, 8, 9)
"""The digits written on squared paper in the `pencil_on_grid` row."""

STRAIGHT_LABELS = (1, 4, 7, 9)
"""The digits with a long straight stroke: the stem, the bar or the tail."""

SMALL_LOOP_LABELS = (6, 9)
"""The digits whose long straight stroke leaves a loop: a 6's stem, a 9's tail."""

_SMALL_LOOP = (0.2, 0.32)
"""A small loop is this share of the digit's height across (an ordinary one about half)."""

_PEN_LIFT = (0.02, 0.05)
"""A stroke drawn apart from the one it joins stops this share of the digit's height short."""

_SUPERSAMPLE = 3
"""Glyphs are drawn at this many times the photo's pixels, then box-filtered down."""

_CLEAN_SIDE = 240
"""The clean reference is drawn this many pixels tall before MNIST's framing."""

_LOOP_POINTS = 48

_CORNERS = 4
"""A stroke with more points than this is a loop."""

_JITTER = 0.015
"""How far a hand misplaces a corner, as a share of the digit's height."""


class Glyph(NamedTuple):
    """A digit as pen strokes in a unit box: x to the right, y down, the taller side 1."""

    label: int
    strokes: tuple[np.ndarray, ...]
    """Each an (k, 2) array of (x, y) points joined by straight segments."""
    straight: int
    """Index of the long straight stroke (the stem, the bar, the tail), -1 when none."""


class GlyphPhoto(NamedTuple):
    """A photo of a glyph and where its ink is."""

    data: bytes
    """The encoded photo (JPEG)."""
    coverage: np.ndarray
    """The pen's coverage, shape (H, W) float32 in [0, 1], in the photo's pixels."""


def straight_glyph(label: int, rng: np.random.Generator) -> Glyph:
    """A random hand-drawn `label` whose long stroke (where it has one) is straight.

    Parameters
    ----------
    label : int
        One of `GLYPH_LABELS`.
    rng : numpy.random.Generator
    """
    if label not in _SHAPES:
        raise ValueError(f"no glyph for {label}; choose from {GLYPH_LABELS}")
    return _by_hand(label, *_SHAPES[label](rng), rng)


def glyph_for(kind: str, index: int, rng: np.random.Generator) -> Glyph:
    """The `index`-th glyph of a photo kind's row: the digits it is about, in turn."""
    if kind == "long_bar_7":
        return seven_with_long_bar(rng)
    if kind == "stem_off_small_loop":
        return small_loop_glyph(SMALL_LOOP_LABELS[index % len(SMALL_LOOP_LABELS)], rng)
    labels = GRID_LABELS if kind == "pencil_on_grid" else STRAIGHT_LABELS
    return straight_glyph(labels[index % len(labels)], rng)


def seven_with_long_bar(rng: np.random.Generator) -> Glyph:
    """A 7 whose top bar is as wide as the digit is tall, or wider, often with a crossbar."""
    return Glyph(7, _unit_box(_seven(rng, bar=rng.uniform(0.95, 1.25))[0]), 0)


def small_loop_glyph(label: int, rng: np.random.Generator, loop: float | None = None) -> Glyph:
    """A 6 or a 9 whose loop is a third of its height or less (or `loop` of it), so that its
    straight stem or tail is by far its longest stroke, drawn apart from the loop (the pen
    lifted)."""
    if label not in SMALL_LOOP_LABELS:
        raise ValueError(f"no small-loop glyph for {label}; choose from {SMALL_LOOP_LABELS}")
    if loop is None:
        loop = rng.uniform(*_SMALL_LOOP)
    lift = rng.uniform(*_PEN_LIFT)
    return _by_hand(label, *(_six if label == 6 else _nine)(rng, loop, lift), rng)


def _by_hand(
    label: int, strokes: tuple[np.ndarray, ...], straight: int, rng: np.random.Generator
) -> Glyph:
    """The glyph of a shape's strokes as a hand draws them (`_jittered`), in a unit box."""
    return Glyph(label, _unit_box(tuple(_jittered(s, rng) for s in strokes)), straight)


def clean_digit(glyph: Glyph) -> np.ndarray:
    """The glyph drawn large with a steady pen on white, in MNIST's framing.

    Returns
    -------
    ndarray of shape (28, 28), uint8
    """
    side = _CLEAN_SIDE
    coverage = draw_glyph(glyph, side, side * STROKE_REL, 0.0)
    mask = coverage > 0.05
    return frame(coverage, mask, 0.0)


def draw_glyph(glyph: Glyph, side: int, pen: float, angle: float) -> np.ndarray:
    """The glyph's coverage, its taller side `side` pixels, drawn with a `pen` pixels wide,
    turned by `angle` degrees, cropped to its ink.

    Returns
    -------
    ndarray of shape (h, w), float32 in [0, 1]
    """
    scale = side * _SUPERSAMPLE
    width = max(1, round(pen * _SUPERSAMPLE))
    margin = width + 2
    points = [s * scale + margin for s in _turned(glyph.strokes, angle)]
    right = max(float(p[:, 0].max()) for p in points) + margin
    bottom = max(float(p[:, 1].max()) for p in points) + margin
    canvas = Image.new("L", (int(np.ceil(right)), int(np.ceil(bottom))), 0)
    draw = ImageDraw.Draw(canvas)
    for p in points:
        draw.line([tuple(xy) for xy in p], fill=255, width=width, joint="curve")
        for x, y in (p[0], p[-1]):
            r = width / 2
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    small = canvas.reduce(_SUPERSAMPLE)
    coverage = np.asarray(small, np.float32) / 255.0
    rows = np.flatnonzero(coverage.max(axis=1) > 0)
    cols = np.flatnonzero(coverage.max(axis=0) > 0)
    return coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def glyph_photo(glyph: Glyph, rng: np.random.Generator, kind: str) -> GlyphPhoto:
    """A seeded photo of the glyph, leaning on one kind of trouble (`GLYPH_KINDS`)."""
    if kind not in GLYPH_KINDS:
        raise ValueError(f"unknown glyph kind {kind!r}; choose from {sorted(GLYPH_KINDS)}")
    scene = random_scene(rng, paper_shade=40)
    pen, angle = GLYPH_KINDS[kind](scene)
    width, height = scene.size
    side = max(12, round(scene.digit_frac * min(width, height)))
    coverage = draw_glyph(glyph, side, pen * min(width, height), angle)
    ch, cw = min(coverage.shape[0], height), min(coverage.shape[1], width)
    top = int(rng.integers(0, height - ch + 1))
    left = int(rng.integers(0, width - cw + 1))
    alpha = np.zeros((height, width), np.float32)
    alpha[top : top + ch, left : left + cw] = coverage[:ch, :cw]
    if kind == "stroke_on_grid":
        scene.under.append(_grid_along(glyph, angle, side, (top, left)))
    elif kind == "pencil_on_grid":
        squares = rng.uniform(2.0, 4.0)
        scene.under.append(lambda scene, paper: draw_squared(scene, paper, spacing=side / squares))
    return GlyphPhoto(render_scene(scene, alpha, Box(left, top, left + cw, top + ch)), alpha)


def _ballpoint_or_marker(scene: Scene) -> float:
    """A pen's width as a share of the photo's shorter side: a ballpoint, or a marker."""
    if scene.rng.random() < 0.5:
        return scene.rng.uniform(0.005, 0.011)
    scene.ink = np.array([30, 30, 40], np.float32) + scene.rng.uniform(0, 30)
    return scene.rng.uniform(0.014, 0.028)


def _close_up(scene: Scene) -> tuple[float, float]:
    """The digit spanning 70-100% of the frame on plain paper."""
    scene.digit_frac = scene.rng.uniform(0.7, 1.0)
    return _ballpoint_or_marker(scene), scene.rng.uniform(-5, 5)


def _long_bar(scene: Scene) -> tuple[float, float]:
    """Mostly close up, at any size from half the frame."""
    scene.digit_frac = scene.rng.uniform(0.5, 1.0)
    return _ballpoint_or_marker(scene), scene.rng.uniform(-5, 5)


def _on_grid(scene: Scene) -> tuple[float, float]:
    """Squared paper, a ballpoint or a pencil, the straight stroke drawn along a grid line."""
    scene.digit_frac = scene.rng.uniform(0.3, 0.6)
    if scene.rng.random() < 0.5:
        scene.ink = np.full(3, 80.0, np.float32)
        scene.ink_strength = scene.rng.uniform(0.5, 0.8)
    return scene.rng.uniform(0.004, 0.009), 0.0


def _ballpoint(scene: Scene) -> tuple[float, float]:
    """A ballpoint on plain paper, the digit a third of the frame or more."""
    scene.digit_frac = scene.rng.uniform(0.4, 0.9)
    return scene.rng.uniform(0.004, 0.009), scene.rng.uniform(-5, 5)


def _pencil_on_grid(scene: Scene) -> tuple[float, float]:
    """A thin pencil or ballpoint on squared paper, the digit two to four squares tall."""
    scene.digit_frac = scene.rng.uniform(0.3, 0.6)
    if scene.rng.random() < 0.5:
        scene.ink = np.full(3, 80.0, np.float32)
        scene.ink_strength = scene.rng.uniform(0.5, 0.8)
        scene.noise = 5.0
    return scene.rng.uniform(0.003, 0.007), scene.rng.uniform(-5, 5)


def _grid_along(
    glyph: Glyph, angle: float, side: int, corner: tuple[int, int]
) -> Callable[[Scene, np.ndarray], np.ndarray]:
    """Squared paper with one of its lines under the glyph's straight stroke."""
    stroke = glyph.strokes[glyph.straight]
    start, end = stroke[0] * side, stroke[-1] * side
    middle = (start + end) / 2 + np.array([corner[1], corner[0]], float)
    vertical = abs(end[1] - start[1]) > abs(end[0] - start[0])

    def draw(scene: Scene, paper: np.ndarray) -> np.ndarray:
        height = paper.shape[0]
        spacing = scene.rng.uniform(0.08, 0.14) * height
        through = float(middle[0] if vertical else middle[1])
        return draw_squared(scene, paper, spacing=spacing, tilt=0.0, through=through)

    return draw


def _jittered(stroke: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand's imprecision: a line's corners each moved a little, a loop moved as a whole."""
    if len(stroke) > _CORNERS:
        return stroke + rng.normal(0, _JITTER, 2)
    return stroke + rng.normal(0, _JITTER, stroke.shape)


def _turned(strokes: tuple[np.ndarray, ...], angle: float) -> list[np.ndarray]:
    """The strokes turned about the box's centre, moved back into the positive quadrant."""
    theta = np.deg2rad(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    turned = [(s - 0.5) @ rotation.T for s in strokes]
    low = np.min([t.min(axis=0) for t in turned], axis=0)
    return [t - low for t in turned]


def _unit_box(strokes: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    low = np.min([s.min(axis=0) for s in strokes], axis=0)
    high = np.max([s.max(axis=0) for s in strokes], axis=0)
    scale = float(np.max(high - low))
    return tuple((s - low) / scale for s in strokes)


def _loop(cx: float, cy: float, rx: float, ry: float, start: float = 0.0) -> np.ndarray:
    t = start + np.linspace(0, 2 * np.pi, _LOOP_POINTS)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _zero(rng: np.random.Generator) -> tuple[tuple[np.ndarray, ...], int]:
    return (_loop(0.5, 0.5, rng.uniform(0.28, 0.4), 0.5, rng.uniform(0, 1)),), -1


def _one(rng: np.random.Generator) -> tuple[tuple[np.ndarray, ...], int]:
    x = 0.5
    strokes = [np.array([[x, 0.0], [x + rng.uniform(-0.04, 0.04), 1.0]])]
    if rng.random() < 0.8:
        reach, drop = rng.uniform(0.15, 0.35), rng.uniform(0.12, 0.35)
        strokes.append(np.array([[x, 0.0], [x - reach, drop]]))
    if rng.random() < 0.3:
        foot = rng.uniform(0.12, 0.3)
        strokes.append(np.array([[x - foot, 1.0], [x + foot, 1.0]]))
    return tuple(strokes), 0


def _four(rng: np.random.Generator) -> tuple[tuple[np.ndarray, ...], int]:
    bar, stem = rng.uniform(0.55, 0.72), rng.uniform(0.55, 0.75)
    width = rng.uniform(0.7, 0.95)
    if rng.random() < 0.5:  # open: the diagonal stops short of the stem
        arm = np.array([[rng.uniform(0.3, 0.5), 0.0], [0.0, bar], [width, bar]])
        upright = np.array([[stem, rng.uniform(0.15, 0.35)], [stem, 1.0]])
    else:  # closed: the diagonal meets the stem's top
        arm = np.array([[stem, 0.0], [0.0, bar], [width, bar]])
        upright = np.array([[stem, 0.0], [stem, 1.0]])
    return (upright, arm), 0


def _six(
    rng: np.random.Generator, loop: float | None = None, lift: float = 0.0
) -> tuple[tuple[np.ndarray, ...], int]:
    ry = (loop if loop is not None else rng.uniform(0.4, 0.55)) / 2
    rx = ry * rng.uniform(1.0, 1.3)
    stem = np.array([[0.5 + rng.uniform(0.05, 0.25), 0.0], [0.5 - rx - lift, 1.0 - ry]])
    return (stem, _loop(0.5, 1.0 - ry, rx, ry, np.pi)), 0


def _seven(
    rng: np.random.Generator, bar: float | None = None
) -> tuple[tuple[np.ndarray, ...], int]:
    width = bar if bar is not None else rng.uniform(0.55, 0.9)
    foot = rng.uniform(0.2, 0.45) * width
    strokes = [np.array([[0.0, 0.0], [width, rng.uniform(-0.03, 0.03)], [foot, 1.0]])]
    if rng.random() < 0.5:
        middle = (width + foot) / 2
        half = rng.uniform(0.15, 0.25) * max(width, 0.6)
        strokes.append(np.array([[middle - half, 0.52], [middle + half, 0.52]]))
    return tuple(strokes), 0


def _eight(rng: np.random.Generator) -> tuple[tuple[np.ndarray, ...], int]:
    waist = rng.uniform(0.42, 0.5)
    top = _loop(0.5, waist / 2, rng.uniform(0.22, 0.3), waist / 2, np.pi / 2)
    bottom = _loop(0.5, (1 + waist) / 2, rng.uniform(0.26, 0.34), (1 - waist) / 2, -np.pi / 2)
    return (top, bottom), -1


def _nine(
    rng: np.random.Generator, loop: float | None = None, lift: float = 0.0
) -> tuple[tuple[np.ndarray, ...], int]:
    if loop is None:
        ry, rx = rng.uniform(0.2, 0.27), rng.uniform(0.25, 0.35)
    else:
        ry = loop / 2
        rx = ry * rng.uniform(1.0, 1.3)
    right = 0.5 + rx + lift
    tail = np.array([[right, ry], [right - rng.uniform(0.0, 0.12), 1.0]])
    return (tail, _loop(0.5, ry, rx, ry)), 0


_SHAPES: dict[int, Callable[[np.random.Generator], tuple[tuple[np.ndarray, ...], int]]] = {
    0: _zero,
    1: _one,
    4: _four,
    6: _six,
    7: _seven,
    8: _eight,
    9: _nine,
}

GLYPH_KINDS: dict[str, Callable[[Scene], tuple[float, float]]] = {
    "close_up_straight": _close_up,
    "long_bar_7": _long_bar,
    "stroke_on_grid": _on_grid,
    "pencil_on_grid": _pencil_on_grid,
    "stem_off_small_loop": _ballpoint,
}
"""Photo kinds for glyphs, each setting the scene and returning the pen's width (a share of
the photo's shorter side) and the glyph's turn in degrees."""
