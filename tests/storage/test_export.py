"""The store's side of /export on SQLite and PostgreSQL: a user's rows and nobody else's, and
the hourly claim that every process on the database shares."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.storage import Storage, open_storage
from testkit.records import BOXES, T0, make_image

HOUR = timedelta(hours=1)


async def test_a_users_rows_come_without_originals_and_their_originals_by_id(
    storage: Storage,
) -> None:
    single = make_image(1)
    await storage.save_image(single)
    page = [
        make_image(2, original=b"page", digit_index=i, digit_count=3, box=box, cluster=i)
        for i, box in enumerate(BOXES)
    ]
    await storage.save_photo(page)
    await storage.save_image(make_image(3, user_id=43, chat_id=43))
    first = await storage.find_image(1000, 1)
    assert first is not None
    await storage.set_feedback(first.id, 42, 5)

    rows = await storage.exported_digits(42)

    assert [(r.message_id, r.digit_index, r.digit_count) for r in rows] == [
        (1, 0, 1),
        (2, 0, 3),
        (2, 1, 3),
        (2, 2, 3),
    ]
    assert [r.size_bytes for r in rows] == [len(single.original), 4, 0, 0]
    assert [r.digit.box for r in rows] == [None, *BOXES]
    assert rows[0].feedback_digit == 5
    assert rows[0].feedback_at is not None
    assert (rows[0].received_at, rows[0].digit.cluster, rows[0].digit.typicality) == (T0, 3, 0.75)
    assert (rows[0].digit.mnist == single.digit.mnist).all()
    assert all((r.digit.mnist == d.digit.mnist).all() for r, d in zip(rows[1:], page, strict=True))
    ids = [r.id for r in rows]
    originals = await storage.export_originals(42, ids)
    assert [originals[i] for i in ids] == [single.original, b"page", b"", b""]

    theirs = [r.id for r in await storage.exported_digits(43)]
    assert len(theirs) == 1
    assert await storage.export_originals(42, theirs) == {}
    assert await storage.exported_digits(44) == []


async def test_one_export_an_hour_then_the_next(storage: Storage) -> None:
    assert await storage.claim_export(42, T0, HOUR) is None
    assert await storage.claim_export(42, T0 + timedelta(minutes=59), HOUR) == T0 + HOUR
    assert await storage.claim_export(43, T0 + timedelta(minutes=1), HOUR) is None
    assert await storage.claim_export(42, T0 + HOUR, HOUR) is None
    assert await storage.claim_export(42, T0 + HOUR, HOUR) == T0 + 2 * HOUR


async def test_a_released_claim_lets_the_user_ask_again(storage: Storage) -> None:
    assert await storage.claim_export(42, T0, HOUR) is None
    await storage.release_export(42, T0 + timedelta(seconds=1))  # not that claim: kept
    assert await storage.claim_export(42, T0, HOUR) == T0 + HOUR
    await storage.release_export(42, T0)
    assert await storage.claim_export(42, T0 + timedelta(seconds=1), HOUR) is None


async def test_forget_and_retention_erase_the_time_of_the_last_export(storage: Storage) -> None:
    await storage.save_image(make_image(1))
    assert await storage.claim_export(42, T0, HOUR) is None
    assert await storage.claim_export(43, T0, HOUR) is None

    await storage.forget_user(42)
    await storage.purge_older_than(T0 - timedelta(days=1))

    assert await storage.claim_export(42, T0, HOUR) is None
    assert await storage.claim_export(43, T0, HOUR) == T0 + HOUR
    await storage.purge_older_than(T0 + timedelta(seconds=1))
    assert await storage.claim_export(43, T0, HOUR) is None


async def test_processes_on_one_database_give_one_claim_between_them(database_url: str) -> None:
    stores = [await open_storage(database_url) for _ in range(2)]
    try:
        claims = await asyncio.gather(
            *(store.claim_export(42, T0, HOUR) for _ in range(6) for store in stores)
        )
    finally:
        for store in stores:
            await store.close()

    assert sorted(claims, key=lambda claim: claim is not None) == [None] + [T0 + HOUR] * 11
