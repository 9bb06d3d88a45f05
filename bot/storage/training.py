"""What retraining learns from users: a uniform sample of their stored digits, read in batches.

However many digits the database holds, retraining holds at most the sample and one batch
(RETRAIN_USER_DIGITS x 784 bytes, plus BATCH x 784): the digits are read in pages by id and
drawn into a reservoir, each with the same chance of being in the sample. A photo sent again
adds nothing to learn from: only the first photo of the same bytes is read.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, select

from bot.digit import MNIST_SHAPE
from bot.storage.schema import images

BATCH = 2000  # digits read per query (1.6 MB of 28x28s)


class Reservoir:
    """A uniform sample of at most `size` of the digits added so far (Vitter's algorithm R),
    in the order they were added."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.seen = 0
        self._rng = rng
        self._digits = np.empty((size, *MNIST_SHAPE), dtype=np.uint8)
        self._order = np.empty(size, dtype=np.int64)  # when each sampled digit was added

    def add(self, digits: np.ndarray) -> None:
        """Offer (n, 28, 28) digits: the i-th of all ever offered stays with chance size / i."""
        positions = np.arange(self.seen, self.seen + len(digits))
        self.seen += len(digits)
        free = positions < self.size
        self._digits[positions[free]] = digits[free]
        self._order[positions[free]] = positions[free]
        slots = self._rng.integers(0, positions[~free] + 1) if (~free).any() else positions[:0]
        taken = np.flatnonzero(~free)[slots < self.size]
        slots = slots[slots < self.size]
        # Of several digits drawn into one slot in this batch, the last one added stays.
        last = len(slots) - 1 - np.unique(slots[::-1], return_index=True)[1]
        self._digits[slots[last]] = digits[taken[last]]
        self._order[slots[last]] = positions[taken[last]]

    def sample(self) -> np.ndarray:
        """The sample, (min(size, seen), 28, 28) uint8, in the order its digits were added."""
        kept = min(self.size, self.seen)
        return self._digits[:kept][np.argsort(self._order[:kept], kind="stable")]


def training_sample(
    engine: Engine,
    limit: int,
    include_outliers: bool,
    seed: int | None,
    batch: int = BATCH,
) -> np.ndarray:
    """At most `limit` of users' 28x28 digits, drawn uniformly, oldest first, as (n, 28, 28)
    uint8; never their feedback, never a repeated photo's digits."""
    reservoir = Reservoir(limit, np.random.default_rng(seed))
    query = select(images.c.id, images.c.mnist).where(images.c.repeated.is_(False))
    if not include_outliers:
        query = query.where(images.c.is_outlier.is_(False))
    after = 0
    while limit > 0:
        page = query.where(images.c.id > after).order_by(images.c.id).limit(batch)
        with engine.connect() as connection:
            rows = connection.execute(page).all()
        if not rows:
            break
        after = rows[-1].id
        blob = b"".join(row.mnist for row in rows)
        reservoir.add(np.frombuffer(blob, dtype=np.uint8).reshape(-1, *MNIST_SHAPE))
    return reservoir.sample()
