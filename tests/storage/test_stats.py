"""/stats and status-report figures against counts worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.storage import Storage
from bot.storage.stats import name_digit
from testkit.records import make_image

NOW = datetime(2024, 3, 10, 15, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# (key, user, cluster, received_at, original size, model version, outlier, feedback digit)
PHOTOS = [
    ("A", 1, 0, NOW - 2 * DAY, 100, "v1", False, 7),  # v1 maps 0 -> 7: match
    ("B", 1, 0, NOW - timedelta(hours=7), 200, "v2", False, 7),  # v2 maps 0 -> 9: miss
    ("C", 1, 1, NOW - timedelta(hours=5), 300, "v2", True, None),
    ("D", 2, 1, NOW - timedelta(hours=16), 400, "v1", False, 1),  # v1 maps 1 -> 1: match
    ("E", 2, 2, NOW - timedelta(hours=14), 500, "v2", False, 7),  # named "crossed 7": match
    ("F", 3, 2, NOW - 10 * DAY, 600, "v1", False, 3),  # v1 maps 2 -> 3: match
]


@pytest.fixture
async def filled(storage: Storage) -> Storage:
    """The six photos above, their feedback, two model versions and one cluster name."""
    await storage.record_model("v1", {"cluster_to_digit": {"0": 7, "1": 1, "2": 3}})
    await storage.record_model("v1", {"cluster_to_digit": {"0": 1, "1": 1, "2": 1}})
    await storage.record_model("v2", {"cluster_to_digit": {"0": 9}})
    await storage.set_cluster_name(2, "crossed 7", set_by=1)
    for message_id, (_, user, cluster, received, size, version, outlier, digit) in enumerate(
        PHOTOS
    ):
        saved = await storage.save_image(
            make_image(
                message_id,
                chat_id=user,
                user_id=user,
                received_at=received,
                original=b"x" * size,
                cluster=cluster,
                is_outlier=outlier,
                model_version=version,
            )
        )
        if digit is not None:
            assert await storage.set_feedback(saved.image_id, user, digit)
    return storage


async def test_a_user_sees_only_their_own_counts(filled: Storage) -> None:
    stats = await filled.user_stats(1)

    assert stats.images == 3
    assert stats.per_cluster == {0: 2, 1: 1}
    assert stats.outliers == 1
    assert stats.feedback == 2
    assert stats.first_at == NOW - 2 * DAY
    assert stats.last_at == NOW - timedelta(hours=5)


async def test_a_user_without_images_has_zero_counts(filled: Storage) -> None:
    stats = await filled.user_stats(99)

    assert (stats.images, stats.per_cluster, stats.outliers, stats.feedback) == (0, {}, 0, 0)
    assert (stats.first_at, stats.last_at) == (None, None)


async def test_global_totals_today_and_live_accuracy(filled: Storage) -> None:
    stats = await filled.global_stats(NOW)

    assert (stats.images, stats.users) == (6, 3)
    assert stats.per_cluster == {0: 2, 1: 2, 2: 2}
    assert stats.today == 3  # B, C and E arrived after midnight UTC
    assert (stats.accuracy.feedback, stats.accuracy.matching) == (5, 4)
    assert stats.accuracy.share == pytest.approx(0.8)
    assert stats.last_retrain is None


async def test_today_starts_at_midnight_in_the_timezone_of_now(filled: Storage) -> None:
    new_york_winter = timezone(timedelta(hours=-5))

    stats = await filled.global_stats(NOW.astimezone(new_york_winter))

    assert stats.today == 2  # midnight there is 05:00 UTC: B and C only


async def test_the_status_report_covers_the_period_and_all_stored_bytes(filled: Storage) -> None:
    run_id = await filled.try_start_retrain("schedule", "bot-1")

    report = await filled.status_report(NOW - DAY)

    assert report.since == NOW - DAY
    assert (report.photos, report.active_users, report.outliers) == (4, 2, 1)
    assert report.per_cluster == {0: 1, 1: 2, 2: 1}
    assert (report.accuracy.feedback, report.accuracy.matching) == (3, 2)
    assert report.original_bytes == 2100
    assert [run.id for run in report.retrains] == [run_id]


async def test_forgetting_a_user_changes_the_figures(filled: Storage) -> None:
    await filled.forget_user(2)

    stats = await filled.global_stats(NOW)
    report = await filled.status_report(NOW - DAY)

    assert (stats.images, stats.users, stats.today) == (4, 2, 2)
    assert (stats.accuracy.feedback, stats.accuracy.matching) == (3, 2)
    assert report.original_bytes == 1200


async def test_without_feedback_accuracy_is_unknown_not_zero(storage: Storage) -> None:
    stats = await storage.global_stats(NOW)

    assert (stats.images, stats.users, stats.today, stats.per_cluster) == (0, 0, 0, {})
    assert stats.accuracy.share is None


@pytest.mark.parametrize(
    ("name", "digit"),
    [("7", 7), ("7s", 7), ("crossed 7", 7), ("77", 7), ("seven", None), ("17", None), ("٣", None)],
)
def test_a_cluster_name_stands_for_a_digit_when_it_holds_one(name: str, digit: int | None) -> None:
    assert name_digit(name) == digit
