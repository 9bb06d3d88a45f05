"""The store on SQLite and PostgreSQL: fields kept, duplicates, feedback, erasure, retention."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bot.storage import (
    Storage,
    StorageConfigError,
    StorageUnavailableError,
    open_storage,
)
from bot.storage.engine import create_db_engine
from testkit.records import T0, make_image


async def test_every_field_round_trips_including_a_10_mb_original(storage: Storage) -> None:
    original = np.random.default_rng(7).bytes(10 * 1024 * 1024)
    received = datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    incoming = make_image(
        message_id=2**40,
        chat_id=-1001234567890,
        user_id=2**40 + 3,
        received_at=received.astimezone(datetime.now().astimezone().tzinfo),
        original=original,
        mime_type="image/png",
        cluster=9,
        distance=3.25e-3,
        typicality=0.0,
        is_outlier=True,
    )

    saved = await storage.save_image(incoming)
    stored = await storage.get_image(saved.image_id)

    assert saved.created
    assert not saved.answered
    assert stored is not None
    assert stored.id == saved.image_id
    assert (stored.chat_id, stored.user_id, stored.message_id) == (
        -1001234567890,
        2**40 + 3,
        2**40,
    )
    assert stored.received_at == received
    assert stored.received_at.tzinfo is not None
    assert stored.original == original
    assert stored.size_bytes == len(original)
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert stored.mime_type == "image/png"
    digit = stored.digit
    assert digit.mnist.dtype == np.uint8
    np.testing.assert_array_equal(digit.mnist, incoming.digit.mnist)
    assert (digit.cluster, digit.distance, digit.typicality, digit.is_outlier) == (
        9,
        3.25e-3,
        0.0,
        True,
    )
    assert stored.model_version == "20261120T000000Z-abc123"
    assert (stored.answered_at, stored.feedback_digit, stored.feedback_at) == (None, None, None)
    found = await storage.find_image(-1001234567890, 2**40)
    assert found is not None
    assert found.id == stored.id


async def test_concurrent_deliveries_of_one_message_make_one_row(storage: Storage) -> None:
    results = await asyncio.gather(*(storage.save_image(make_image(5)) for _ in range(24)))

    assert sum(result.created for result in results) == 1
    assert len({result.image_id for result in results}) == 1
    assert (await storage.global_stats(T0)).images == 1


async def test_same_message_id_in_another_chat_is_another_image(storage: Storage) -> None:
    first = await storage.save_image(make_image(5, chat_id=1))
    second = await storage.save_image(make_image(5, chat_id=2))

    assert first.created
    assert second.created
    assert first.image_id != second.image_id


async def test_a_repeated_delivery_reports_whether_it_was_answered(storage: Storage) -> None:
    saved = await storage.save_image(make_image(8))

    claims = await asyncio.gather(*(storage.mark_answered(saved.image_id) for _ in range(8)))
    again = await storage.save_image(make_image(8))
    stored = await storage.get_image(saved.image_id)

    assert claims.count(True) == 1
    assert again == type(again)(image_id=saved.image_id, created=False, answered=True)
    assert stored is not None
    assert stored.answered_at is not None


async def test_feedback_only_from_the_owner_and_only_on_that_image(storage: Storage) -> None:
    mine = await storage.save_image(make_image(1, user_id=42))
    theirs = await storage.save_image(make_image(2, user_id=43))

    assert await storage.set_feedback(mine.image_id, 42, 7)
    assert not await storage.set_feedback(theirs.image_id, 42, 1)
    assert not await storage.set_feedback(999_999, 42, 1)
    assert await storage.set_feedback(mine.image_id, 42, 4)

    stored_mine = await storage.get_image(mine.image_id)
    stored_theirs = await storage.get_image(theirs.image_id)
    assert stored_mine is not None
    assert stored_mine.feedback_digit == 4
    assert stored_mine.feedback_at is not None
    assert stored_theirs is not None
    assert stored_theirs.feedback_digit is None


async def test_feedback_digit_outside_0_to_9_is_refused(storage: Storage) -> None:
    saved = await storage.save_image(make_image())

    with pytest.raises(ValueError, match="0-9"):
        await storage.set_feedback(saved.image_id, 42, 10)


async def test_forget_user_erases_only_that_user(storage: Storage) -> None:
    for message_id in range(3):
        await storage.save_image(make_image(message_id, user_id=42))
    kept = await storage.save_image(make_image(10, user_id=43))
    await storage.set_cluster_name(3, "threes", set_by=42)

    assert await storage.forget_user(42) == 3
    assert await storage.forget_user(42) == 0
    assert await storage.find_image(1000, 0) is None
    assert (await storage.user_stats(42)).images == 0
    assert await storage.get_image(kept.image_id) is not None
    assert await storage.cluster_names() == {3: "threes"}
    assert (await storage.global_stats(T0)).users == 1


async def test_purge_removes_images_received_before_the_cutoff(storage: Storage) -> None:
    for day in range(5):
        await storage.save_image(make_image(day, received_at=T0 + timedelta(days=day)))

    assert await storage.purge_older_than(T0 + timedelta(days=2)) == 2
    assert await storage.find_image(1000, 1) is None
    assert await storage.find_image(1000, 2) is not None
    assert await storage.purge_older_than(T0) == 0


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.purge_older_than(datetime(2026, 1, 1))


def test_an_image_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(28, 28\) uint8"):
        make_image(mnist=np.zeros((28, 28), dtype=np.float32))


async def test_an_unreachable_database_raises_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailableError, match="unavailable") as caught:
        await open_storage("postgresql+psycopg://bot:secret@127.0.0.1:9/bot")

    assert "secret" not in str(caught.value)


async def test_a_cancelled_call_returns_only_once_the_database_has_settled(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    storage = await open_storage(url, workers=2)
    writer = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        saving = asyncio.create_task(storage.save_image(make_image(77)))
        await asyncio.sleep(0)
        saving.cancel()
        asyncio.get_running_loop().call_later(0.2, writer.execute, "COMMIT")

        with pytest.raises(asyncio.CancelledError):
            await saving
        found = await storage.find_image(1000, 77)
    finally:
        writer.close()
        await storage.close()

    assert found is not None


async def test_erased_photos_leave_no_bytes_in_the_sqlite_files(tmp_path: Path) -> None:
    storage = await open_storage(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    forgotten = np.random.default_rng(1).bytes(200_000)
    purged = np.random.default_rng(2).bytes(200_000)
    try:
        await storage.save_image(make_image(1, user_id=5, original=forgotten))
        await storage.save_image(make_image(2, user_id=6, original=purged, received_at=T0))
        await storage.save_image(make_image(3, user_id=6, received_at=T0 + timedelta(days=9)))
        await storage.forget_user(5)
        await storage.purge_older_than(T0 + timedelta(days=1))
        on_disk = await asyncio.to_thread(_read_database_files, tmp_path)
    finally:
        await storage.close()

    for original in (forgotten, purged):
        assert all(original[i : i + 64] not in on_disk for i in range(0, len(original), 20_000))


def _read_database_files(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.glob("bot.sqlite3*"))


@pytest.mark.parametrize(
    "url",
    [
        "mysql://bot@localhost/bot",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x?mode=memory",
    ],
)
async def test_a_database_the_store_cannot_use_is_named_in_one_sentence(url: str) -> None:
    with pytest.raises(StorageConfigError, match="sqlite:///"):
        await open_storage(url)


def test_plain_postgres_urls_mean_psycopg_3() -> None:
    for url in ("postgres://bot@127.0.0.1/bot", "postgresql://bot@127.0.0.1/bot"):
        engine = create_db_engine(url, pool_size=1)
        assert engine.dialect.driver == "psycopg"
        engine.dispose()
