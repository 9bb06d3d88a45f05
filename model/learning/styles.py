"""Handwriting styles MNIST lacks, drawn onto its digits for self-training.

MNIST's writers were American: their 1s are plain strokes. Most European writers, the bot's
first users among them, give a 1 a flag at the top and often a foot. MNIST holds few such
1s, and both the mixture and the network would put them with the 2s. Self-training therefore
shows the network some plain strokes of the stroke cluster with a foot, a flag or both drawn
on.

No label is read: the cluster of plain strokes (MNIST's 1s) is the one far narrower than
every other; when no cluster is, nothing is drawn.
"""

from __future__ import annotations

import numpy as np

from model import MNIST_SIDE
from model.serving.photo.framing import fit_and_centre

__all__ = ["stroke_cluster", "with_foot_and_flag"]

# Each pixel's row and column, built once.
_ROWS, _COLS = np.mgrid[0:MNIST_SIDE, 0:MNIST_SIDE].astype(np.float32)
_NARROWER = 0.5  # the stroke cluster's mean horizontal variance, at most this share of the others'
_INKED_ROW = 0.3  # a row's summed ink (in [0, 1] pixels) that counts as part of the digit
_FOOT = (0.18, 0.6)  # half a foot's length, as a share of the digit's height
_FLAG = (0.2, 0.6)  # a flag's length, as a share of the digit's height
_FLAG_ANGLE = (15.0, 60.0)  # a flag's slope below the horizontal, in degrees


def stroke_cluster(deskewed: np.ndarray, labels: np.ndarray) -> int:
    """The cluster of plain strokes, or -1 when no cluster is far narrower than the rest.

    Parameters
    ----------
    deskewed : ndarray of shape (n_samples, 784) or (n_samples, 28, 28), float in [0, 1]
    labels : ndarray of shape (n_samples,), the clusters

    Returns
    -------
    int, the label of the narrowest cluster, or -1
    """
    X = np.asarray(deskewed, dtype=np.float32).reshape(-1, MNIST_SIDE, MNIST_SIDE)
    mass = X.sum(axis=(1, 2)) + 1e-6
    centre = (X * _COLS).sum(axis=(1, 2)) / mass
    spread = (X * (_COLS - centre[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    present = np.unique(labels)
    if len(present) < 3:
        return -1
    spreads = np.array([spread[labels == c].mean() for c in present])
    order = np.argsort(spreads)
    if spreads[order[0]] > _NARROWER * np.median(spreads[order[1:]]):
        return -1
    return int(present[order[0]])


def _segments(
    r0: np.ndarray, c0: np.ndarray, r1: np.ndarray, c1: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """Anti-aliased ink, shape (n, 28, 28), of one straight stroke per image."""
    dr, dc = (r1 - r0)[:, None, None], (c1 - c0)[:, None, None]
    pr, pc = _ROWS[None] - r0[:, None, None], _COLS[None] - c0[:, None, None]
    t = np.clip((pr * dr + pc * dc) / np.maximum(dr * dr + dc * dc, 1e-6), 0.0, 1.0)
    distance = np.hypot(pr - t * dr, pc - t * dc)
    return np.clip(width[:, None, None] / 2 + 0.5 - distance, 0.0, 1.0)


def with_foot_and_flag(strokes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Plain strokes given a foot (30%), a flag (30%) or both (40%), in their own pen width,
    then framed again as MNIST frames a digit (a wide foot makes the digit wider than tall, and
    both move its centre of mass).

    The foot is a horizontal bar across the stroke's lowest point, 36-120% of the digit's
    height long (a base as wide as the digit is tall is common); the flag runs down and left
    from its top, 20-60% of the height long, 15-60° below the horizontal.

    Parameters
    ----------
    strokes : ndarray of shape (n_samples, 28, 28), float in [0, 1]
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (n_samples, 28, 28), float32 in [0, 1]
    """
    X = np.asarray(strokes, dtype=np.float32).reshape(-1, MNIST_SIDE, MNIST_SIDE)
    n = len(X)
    if n == 0:
        return X.copy()
    inked = X.sum(axis=2) > _INKED_ROW
    top = np.argmax(inked, axis=1)
    bottom = MNIST_SIDE - 1 - np.argmax(inked[:, ::-1], axis=1)
    row_ink = X[np.arange(n), top] + 1e-6, X[np.arange(n), bottom] + 1e-6
    top_c, bottom_c = ((ink * _COLS[0]).sum(axis=1) / ink.sum(axis=1) for ink in row_ink)
    top, bottom = top.astype(np.float32), bottom.astype(np.float32)
    height = bottom - top + 1
    length = np.maximum(np.hypot(height, bottom_c - top_c), 1.0)
    width = np.clip(X.sum(axis=(1, 2)) / length, 1.5, 3.5)  # ink per unit of stroke length

    half = rng.uniform(_FOOT[0], _FOOT[1], n) * height
    offset = rng.uniform(-0.3, 0.3, n) * half
    foot_r = bottom - width / 2 + 0.5
    foot = _segments(foot_r, bottom_c - half + offset, foot_r, bottom_c + half + offset, width)
    flag_length = rng.uniform(_FLAG[0], _FLAG[1], n) * height
    angle = np.deg2rad(rng.uniform(_FLAG_ANGLE[0], _FLAG_ANGLE[1], n))
    flag_r = top + width / 2
    flag = _segments(
        flag_r,
        top_c,
        flag_r + flag_length * np.sin(angle),
        top_c - flag_length * np.cos(angle),
        width,
    )
    kind = rng.choice(3, n, p=[0.3, 0.3, 0.4])  # foot, flag, both
    out = X.copy()
    out[kind != 1] = np.maximum(out[kind != 1], foot[kind != 1])
    out[kind != 0] = np.maximum(out[kind != 0], flag[kind != 0])
    return np.stack([fit_and_centre(digit) for digit in out]).astype(np.float32) / 255.0
