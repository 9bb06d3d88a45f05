"""What retraining reads from the store: a uniform sample of users' digits, read in batches,
with memory bounded by the sample and a batch however many digits are stored."""

from __future__ import annotations

import tracemalloc

import numpy as np

from bot.storage import IncomingImage, Storage
from bot.storage.training import BATCH, Reservoir
from testkit.records import make_image


async def test_a_sample_as_large_as_the_store_is_every_digit_oldest_first(
    storage: Storage,
) -> None:
    sent = [make_image(i, is_outlier=i == 1) for i in range(3)]
    for image in sent:
        await storage.save_image(image)
    await storage.save_image(make_image(7, original=sent[2].original))  # sent again

    everything = await storage.training_sample(100)
    digits_only = await storage.training_sample(100, include_outliers=False)
    nothing = await storage.training_sample(0)

    np.testing.assert_array_equal(everything, np.stack([image.digit.mnist for image in sent]))
    np.testing.assert_array_equal(digits_only, np.stack([sent[0].digit.mnist, sent[2].digit.mnist]))
    assert nothing.shape == (0, 28, 28)
    assert nothing.dtype == np.uint8


async def test_an_empty_store_gives_an_empty_sample_of_the_right_shape(storage: Storage) -> None:
    images = await storage.training_sample(10)

    assert images.shape == (0, 28, 28)
    assert images.dtype == np.uint8


def _photo_of_many_digits(message_id: int, n: int) -> list[IncomingImage]:
    """One photo of `n` digits, each its own random 28x28: a quick way to store many rows."""
    rng = np.random.default_rng(message_id)
    return [
        make_image(
            message_id,
            original=b"page %d" % message_id,
            mnist=rng.integers(0, 256, size=(28, 28), dtype=np.uint8),
            digit_index=index,
            digit_count=n,
        )
        for index in range(n)
    ]


async def test_retraining_reads_a_bounded_sample_in_batches(storage: Storage) -> None:
    photos = [_photo_of_many_digits(message_id, 1000) for message_id in range(8 * BATCH // 1000)]
    for photo in photos:
        await storage.save_photo(photo)
    stored = {d.digit.mnist.tobytes() for photo in photos for d in photo}

    tracemalloc.start()
    try:
        sample = await storage.training_sample(500, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert sample.shape == (500, 28, 28)
    assert len({digit.tobytes() for digit in sample}) == 500
    assert {digit.tobytes() for digit in sample} <= stored
    # The sample and one batch of rows (a row holds its 784 bytes about three times over on the
    # way from the driver), never the whole store: reading it at once would hold all of it.
    assert peak < 4 * (500 + BATCH) * 28 * 28 < len(stored) * 28 * 28


def test_each_digit_is_as_likely_to_be_in_the_sample_whatever_the_batches() -> None:
    digits = np.arange(100, dtype=np.uint8).repeat(784).reshape(100, 28, 28)
    chosen = np.zeros(100, dtype=int)
    for seed in range(2000):
        reservoir = Reservoir(10, np.random.default_rng(seed))
        for start in range(0, 100, 7):
            reservoir.add(digits[start : start + 7])
        sample = reservoir.sample()[:, 0, 0]
        assert list(sample) == sorted(set(sample))
        chosen[sample] += 1

    assert chosen.sum() == 2000 * 10
    # Each digit is in 10% of the samples: 200 of 2000, give or take four standard deviations.
    assert chosen.min() > 200 - 4 * 13.4
    assert chosen.max() < 200 + 4 * 13.4
