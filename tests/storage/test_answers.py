"""Users' answers read for the clusters' meaning, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np

from bot.storage import Storage, Vote
from testkit.records import make_image

NOW, EARLIER = "20261207T000000Z-now", "20261201T000000Z-earlier"


async def _answered(
    storage: Storage, message_id: int, user: int, cluster: int, digit: int | None, version: str
) -> int:
    saved = await storage.save_image(
        make_image(message_id, user_id=user, cluster=cluster, model_version=version)
    )
    if digit is not None:
        assert await storage.set_feedback(saved.image_id, user, digit)
    return saved.image_id


async def test_votes_count_the_answers_to_one_models_digits_per_cluster_digit_and_user(
    storage: Storage,
) -> None:
    await _answered(storage, 1, 7, 3, 1, NOW)
    await _answered(storage, 2, 7, 3, 1, NOW)
    await _answered(storage, 3, 8, 3, 7, NOW)
    await _answered(storage, 4, 8, 5, None, NOW)  # not answered
    await _answered(storage, 5, 9, 3, 1, EARLIER)  # another model's cluster 3

    votes = await storage.votes(NOW)

    assert sorted(votes) == [Vote(3, 1, 7, 2), Vote(3, 7, 8, 1)]


async def test_answered_digits_of_other_models_come_in_batches_with_their_28x28s(
    storage: Storage,
) -> None:
    ids = [await _answered(storage, n, 10 + n, 0, n % 10, EARLIER) for n in range(1, 6)]
    await _answered(storage, 6, 16, 0, 6, NOW)  # the served model's: counted by votes
    await _answered(storage, 7, 17, 0, None, EARLIER)  # never answered

    first = await storage.answered_digits(NOW, 0, 3)
    rest = await storage.answered_digits(NOW, first.last_id, 3)
    done = await storage.answered_digits(NOW, rest.last_id, 3)

    assert (first.digits, first.users, first.last_id) == ([1, 2, 3], [11, 12, 13], ids[2])
    assert (rest.digits, rest.users, rest.last_id) == ([4, 5], [14, 15], ids[4])
    assert (done.digits, done.images.shape, done.last_id) == ([], (0, 28, 28), ids[4])
    for n, image in enumerate([*first.images, *rest.images], start=1):
        assert np.array_equal(image, make_image(n).digit.mnist)
