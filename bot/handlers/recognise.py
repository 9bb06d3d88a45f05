"""The CPU part of answering a photo: preprocess, assign, draw. Runs in the model worker pool."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.render import render_reply
from model.modelfile import DigitModel
from model.preprocess import to_mnist


@dataclass(frozen=True)
class Recognition:
    """Everything the reply and the database need about one picture."""

    mnist: NDArray[np.uint8]
    cluster: int
    distance: float
    typicality: float
    is_outlier: bool
    model_version: str
    picture: bytes


def recognise(model: DigitModel, data: bytes) -> Recognition:
    """Turn picture bytes into a cluster and the reply picture; raises PreprocessError."""
    mnist = to_mnist(data)
    assigned = model.assign(mnist[np.newaxis])
    cluster = int(assigned.clusters[0])
    is_outlier = bool(assigned.is_outlier[0])
    samples = None if is_outlier else model.samples(cluster)
    return Recognition(
        mnist=mnist,
        cluster=cluster,
        distance=float(assigned.distances[0]),
        typicality=float(assigned.typicality[0]),
        is_outlier=is_outlier,
        model_version=model.version,
        picture=render_reply(mnist, samples),
    )
