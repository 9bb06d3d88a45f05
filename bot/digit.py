"""One recognised digit: what the bot saw and what the model made of it.

The one record of a digit that recognition makes, the reply pictures draw and the store keeps
and reads back; it imports numpy and the photo pipeline's `Box` only, so the store and the workers
share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from model import MNIST_SIDE
from model.serving.photo.box import Box

if TYPE_CHECKING:
    from model.serving.modelfile import Assignments

MNIST_SHAPE = (MNIST_SIDE, MNIST_SIDE)  # the shape of every digit's image


@dataclass(frozen=True, slots=True, eq=False)
class RecognisedDigit:
    """A digit's 28x28 as the model read it, the cluster it was assigned to, and where it was.

    Compared by identity, since arrays have no single truth value.
    """

    mnist: NDArray[np.uint8] = field(repr=False)
    cluster: int
    distance: float
    typicality: float
    is_outlier: bool  # far from every cluster
    box: Box | None = None  # in the photo's upright pixels; None for a photo of one digit
    touching: bool = False  # the box seems to hold digits that touch, read as one

    @classmethod
    def assigned(
        cls,
        mnist: NDArray[np.uint8],
        assignments: Assignments,
        row: int,
        *,
        box: Box | None = None,
        touching: bool = False,
    ) -> RecognisedDigit:
        """The digit `mnist` as row `row` of the model's batch result assigned it."""
        return cls(
            mnist=mnist,
            cluster=int(assignments.clusters[row]),
            distance=float(assignments.distances[row]),
            typicality=float(assignments.typicality[row]),
            is_outlier=bool(assignments.is_outlier[row]),
            box=box,
            touching=touching,
        )

    def __post_init__(self) -> None:
        if self.mnist.shape != MNIST_SHAPE or self.mnist.dtype != np.uint8:
            raise ValueError(
                f"mnist must be a (28, 28) uint8 array, got {self.mnist.shape} {self.mnist.dtype}"
            )
