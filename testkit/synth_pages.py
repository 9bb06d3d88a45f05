"""Seeded photo-like pages of several MNIST digits, to measure `find_digits` without real ones.

Each kind leans on one trouble of real pages: rows with varied gaps, several lines, slanted
lines, grid and ruled paper, digits of different sizes, pairs that touch, printed text beside
the handwriting. The digits are drawn in dark ink on off-white paper and saved as JPEG.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

PAGE = (1280, 960)
Layout = Callable[[np.random.Generator, int], list[tuple[float, float, float]]]
"""Where each digit goes: (x, y, height) of its box's top-left corner, in pixels."""

_LABELS = (
    "Account number / Numero de compte:",
    "Customer reference (write one digit per box)",
    "Telephone number, with area code:",
    "Date of birth  DD MM YYYY",
    "Policy no.",
)
"""Printed form labels, in ASCII: the bundled font draws accented letters as boxes."""


def _row(rng: np.random.Generator, n: int, y: float = 400.0, slope: float = 0.0) -> list:
    height = rng.uniform(50, 75)
    x, out = 40.0, []
    for _ in range(n):
        out.append((x, y + slope * x, height))
        x += height * rng.uniform(1.1, 1.5)
    return out


def _rows(lines: int) -> Layout:
    def layout(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
        per = -(-n // lines)
        out: list[tuple[float, float, float]] = []
        for line in range(lines):
            out += _row(rng, min(per, n - len(out)), 120.0 + line * 260.0)
        return out

    return layout


def _slanted(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
    return _row(rng, n, 500.0, rng.uniform(-0.18, 0.18))


def _sizes(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
    """Digits centred on a line, wrapping to a second one where the page ends (as a hand does;
    none is drawn past the paper's edge)."""
    x, centre, out = 40.0, 400.0, []
    for _ in range(n):
        height = rng.uniform(45, 130)
        if x + height * 1.4 > PAGE[0] - 20:
            x, centre = 40.0, centre + 250.0
        out.append((x, centre - height / 2, height))
        x += height + rng.uniform(10, 40)
    return out


def _touching(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
    out = _row(rng, n)
    first = out[0]
    out[1] = (first[0] + first[2] * 0.7, first[1], first[2])
    return out


KINDS: dict[str, tuple[Layout, str]] = {
    "row": (lambda rng, n: _row(rng, n), "plain"),
    "two_rows": (_rows(2), "plain"),
    "three_rows": (_rows(3), "plain"),
    "slanted": (_slanted, "plain"),
    "grid": (lambda rng, n: _row(rng, n), "grid"),
    "ruled": (lambda rng, n: _row(rng, n), "ruled"),
    "sizes": (_sizes, "plain"),
    "printed_text": (lambda rng, n: _row(rng, n), "text"),
    "touching_pair": (_touching, "plain"),
}
"""Page kinds: a layout and the paper it is written on."""


def make_page(
    digits: np.ndarray,
    rng: np.random.Generator,
    kind: str = "row",
    places: list[tuple[float, float, float]] | None = None,
) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """A JPEG page holding `digits` (n, 28, 28) and each one's box (x0, y0, x1, y1), in the
    order they were written (reading order). `places` (x, y, height) overrides the kind's
    layout, to redraw a page a test needs."""
    layout, paper = KINDS[kind]
    width, height = PAGE
    page = np.full((height, width), rng.uniform(215, 240), np.float32)
    page *= 1 - 0.03 * np.linspace(0, 1, width)[None, :]
    if paper == "grid":
        page[:, rng.integers(0, 40) :: 40] *= 0.8
        page[rng.integers(0, 40) :: 40, :] *= 0.8
    elif paper == "ruled":
        page[rng.integers(0, 70) :: 70, :] *= 0.75
    boxes = []
    if places is None:
        places = layout(rng, len(digits))
    for digit, (x, y, side) in zip(digits, places, strict=True):
        scaled = Image.fromarray(digit).resize((round(side * 1.4),) * 2, Image.Resampling.BICUBIC)
        alpha = np.asarray(scaled, np.float32) / 255.0
        ys, xs = np.nonzero(alpha > 0.1)
        alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        top, left = round(y), round(x)
        region = page[top : top + alpha.shape[0], left : left + alpha.shape[1]]
        alpha = alpha[: region.shape[0], : region.shape[1]]
        region[:] = region * (1 - alpha) + 35.0 * alpha
        boxes.append((left, top, left + alpha.shape[1], top + alpha.shape[0]))
    image = Image.fromarray(np.clip(page + rng.normal(0, 3, page.shape), 0, 255).astype(np.uint8))
    if paper == "text":
        label = _LABELS[int(rng.integers(len(_LABELS)))]
        size = rng.uniform(20, 34)
        at = (rng.uniform(20, 200), 330 - 2.2 * size)
        ImageDraw.Draw(image).text(at, label, fill=30, font_size=size)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    return buffer.getvalue(), boxes
