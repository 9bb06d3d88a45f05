"""Stage 2, paper and ink: divide out the lit paper and settle the ink's polarity."""

from __future__ import annotations

import numpy as np
from PIL import Image

from model.serving.photo.imageops import closing, quantile, top_hats, upsample

_COARSE = 64
"""The paper is worked out on a copy reduced to about this many pixels on its longer side; a
picture smaller than that is a small image with a flat background (`_light_ink`)."""

_MIN_PAPER_WINDOW = 7
"""The paper's closing is at least this wide (and a quarter of the coarse copy), wider than any
stroke."""

_DARKEST_PAPER = 8.0
"""The paper is taken as at least this bright, so that dividing by it stays finite."""

_BORDER_CONTRAST = 20.0
"""Grey levels of the border below mid-range that count as one unit of evidence of light ink."""

_LIGHT_BORDER_EVIDENCE = 4.0
"""A light border (paper) counts at most this much against light ink;"""

_DARK_BORDER_EVIDENCE = 2.0
"""a dark border (maybe the table or a shadow) at most this much for it."""

_TOP_HAT_SIZE = 5
"""Thin dark and light features are looked for at this width (a pen's, a marker's on the
halved copy)."""

_FEATURE_MARGIN = 3.0
_FEATURE_FLOOR = 4.0
"""A feature counts where the top-hat exceeds this many times its median plus this floor."""

_FEATURE_EVIDENCE = 2.5
"""Each scale's thin features count at most this much either way."""

_LIGHT_INK_EVIDENCE = 1.5
"""Ink is light when the evidence for it exceeds this: dark ink is the usual photo."""


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (0 = paper) after dividing out the lit background.

    Parameters
    ----------
    gray : ndarray of shape (height, width), float32
        Luminance 0..255, longer side at most a few hundred pixels.

    Returns
    -------
    ndarray of shape (height, width), float32
        About 0 on paper, up to 1 on the darkest (or, for light ink, lightest) strokes.

    Polarity follows the background (`_light_ink`). The paper is then a morphological closing
    of a coarse copy, wider than any stroke, so it follows gradients and hard shadow edges but
    not the ink.
    """
    height, width = gray.shape
    factor = max(1, max(height, width) // _COARSE)
    image = Image.fromarray(gray)
    coarse = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    if _light_ink(coarse):
        gray, coarse = 255.0 - gray, 255.0 - coarse
    size = max(_MIN_PAPER_WINDOW, max(coarse.shape) // 4)
    paper = upsample(_paper(coarse, size), (height, width))
    np.maximum(paper, _DARKEST_PAPER, out=paper)
    np.divide(gray, paper, out=paper)
    return np.subtract(1.0, paper, out=paper)


def _paper(coarse: np.ndarray, size: int) -> np.ndarray:
    """The lit paper under the ink: a closing wider than any stroke, whose fall-off towards
    the picture's edges is carried on to them.

    Within half a window of an edge the closing sees only the brighter paper further in, so
    it holds the light level there flat: where the light falls off towards the edges (a
    phone's dark corners) the paper would read as ink. There the light's trend over the next
    half window is carried on to the edge instead, never darker than the pixel itself (nor
    brighter than the closing), so a stroke along the edge stays ink.
    """
    paper = closing(coarse, size)
    half = size // 2
    if min(coarse.shape) < 4 * half:
        return paper
    outward = np.arange(half, 0, -1, dtype=np.float32)[:, None] / half
    for lit, seen in ((paper, coarse), (paper.T, coarse.T)):
        for band, inner, far, steps in (
            (slice(0, half), half, 2 * half, outward),
            (slice(-half, None), -half - 1, -2 * half - 1, outward[::-1]),
        ):
            trend = lit[inner] + (lit[inner] - lit[far]) * steps
            lit[band] = np.minimum(lit[band], np.maximum(trend, seen[band]))
    return paper


def _light_ink(coarse: np.ndarray) -> bool:
    """Whether the ink is lighter than the background.

    A small image (MNIST itself, a screenshot, a digit cut to its box) has a flat background:
    its median and its border's tell together, for a digit that fills it may cover half of
    it but rarely half its border; a strip too thin for the top-hats below has its median.
    On a photo, evidence adds up in log-odds: how much thin dark and thin light features
    stand out from their surroundings (morphological top-hats) at a pen's width and, on a
    copy halved again, at a marker's, where steps such as a paper edge or a shadow and
    symmetric textures cancel out; and whether the border, mostly background, is darker than
    mid-range. A light border counts up to twice as much as a dark one: it is paper, while a
    dark border may be the table beyond the paper's edge or a shadow; and on a bold digit
    cut to its box, whose strokes are wider than the top-hats, those see only the paper
    between the strokes and take it for light ink. Dark ink on paper is the usual photo, so
    light ink needs clear evidence.
    """
    middle = (quantile(coarse, 0.01) + quantile(coarse, 0.99)) / 2
    if min(coarse.shape) < 2:
        return quantile(coarse, 0.5) < middle
    ring = np.concatenate([coarse[0], coarse[-1], coarse[1:-1, 0], coarse[1:-1, -1]])
    if max(coarse.shape) < _COARSE:
        # A digit that fills a small picture may cover half of it, but rarely half its border.
        return quantile(ring, 0.5) + quantile(coarse, 0.5) < 2 * middle
    border = (middle - quantile(ring, 0.5)) / _BORDER_CONTRAST
    evidence = float(np.clip(border, -_LIGHT_BORDER_EVIDENCE, _DARK_BORDER_EVIDENCE))
    even = coarse[: coarse.shape[0] // 2 * 2, : coarse.shape[1] // 2 * 2]
    halved = (even[::2, ::2] + even[1::2, ::2] + even[::2, 1::2] + even[1::2, 1::2]) / 4
    for image in (coarse, halved):
        dark, light = top_hats(image, _TOP_HAT_SIZE)
        margin = _FEATURE_MARGIN * quantile(dark + light, 0.5) + _FEATURE_FLOOR
        dark_mass = np.maximum(dark - margin, 0.0).sum()
        light_mass = np.maximum(light - margin, 0.0).sum()
        ratio = np.log((light_mass + 1.0) / (dark_mass + 1.0))
        evidence += float(np.clip(ratio, -_FEATURE_EVIDENCE, _FEATURE_EVIDENCE))
    return evidence > _LIGHT_INK_EVIDENCE
