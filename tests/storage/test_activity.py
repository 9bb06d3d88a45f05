"""The figures of the admins' /stats picture against counts worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.storage import Accuracy, Storage
from testkit.records import make_image

NOW = datetime(2024, 3, 10, 0, 30, tzinfo=UTC)  # just after midnight: the day is UTC's
HOUR = timedelta(hours=1)

# (cluster, received_at, outlier, feedback digit)
PHOTOS = [
    (0, NOW - HOUR, False, 7),  # 9 March, 23:30
    (0, NOW - 2 * HOUR, False, 1),
    (1, NOW - HOUR, True, None),  # an outlier of 9 March
    (1, NOW, False, 1),  # 10 March
    (2, NOW - timedelta(days=29), False, 3),  # 10 February: the first day of 30
    (2, NOW - timedelta(days=31), False, 3),  # before the period; its feedback still counts
]


async def _fill(storage: Storage) -> None:
    await storage.record_model("v1", {"cluster_to_digit": {"0": 7, "1": 1, "2": 3}})
    for message_id, (cluster, received, outlier, digit) in enumerate(PHOTOS):
        saved = await storage.save_image(
            make_image(
                message_id,
                chat_id=5,
                user_id=5,
                received_at=received,
                original=b"x",
                cluster=cluster,
                is_outlier=outlier,
                model_version="v1",
            )
        )
        if digit is not None:
            assert await storage.set_feedback(saved.image_id, 5, digit)


async def test_photos_per_utc_day_and_cluster_and_the_feedback_matrix(storage: Storage) -> None:
    await _fill(storage)

    activity = await storage.activity(NOW, days=30)

    assert activity.days[0] == date(2024, 2, 10)
    assert activity.days[-1] == date(2024, 3, 10)
    assert len(activity.days) == 30
    assert activity.photos == {
        (date(2024, 3, 9), 0): 2,
        (date(2024, 3, 10), 1): 1,
        (date(2024, 2, 10), 2): 1,
    }
    assert activity.outliers == {date(2024, 3, 9): 1}
    assert activity.feedback == {(0, 7): 1, (0, 1): 1, (1, 1): 1, (2, 3): 2}
    assert activity.accuracy == Accuracy(feedback=5, matching=4)


async def test_an_empty_database_has_empty_days(storage: Storage) -> None:
    activity = await storage.activity(NOW, days=7)

    assert len(activity.days) == 7
    assert (activity.photos, activity.outliers, activity.feedback) == ({}, {}, {})
    assert activity.accuracy.share is None
