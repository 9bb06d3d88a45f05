"""Bounded storage on SQLite and PostgreSQL: a picture sent again is kept once, the stored bytes
are counted against a cap that alerts once per level, retention hands kept bytes over."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np

from bot.storage import Original, Storage, StorageAlert, open_storage
from testkit.records import T0, make_image

USER, OTHER = 42, 43
PICTURE = np.random.default_rng(5).bytes(3000)


async def test_the_same_bytes_from_the_same_user_are_kept_once(storage: Storage) -> None:
    first = await storage.save_image(make_image(1, original=PICTURE))
    again = await storage.save_image(make_image(2, original=PICTURE))
    theirs = await storage.save_image(make_image(3, original=PICTURE, user_id=OTHER))

    stored = [await storage.get_image(saved.image_id) for saved in (first, again, theirs)]
    assert [saved.original for saved in (first, again, theirs)] == [
        Original.KEPT,
        Original.ALREADY_KEPT,
        Original.KEPT,
    ]
    assert again.created
    assert [s.original if s else None for s in stored] == [PICTURE, b"", PICTURE]
    assert [s.repeated if s else None for s in stored] == [False, True, False]
    assert len({s.sha256 for s in stored if s}) == 1
    report = await storage.status_report(T0 - timedelta(days=1))
    assert report.original_bytes == await storage.recount_stored_bytes() == 2 * len(PICTURE)
    today = await storage.photos_since(USER, T0 - timedelta(hours=1))
    assert (today.photos, today.original_bytes) == (2, len(PICTURE))


async def test_the_same_bytes_sent_at_once_in_several_messages_are_kept_once(
    database_url: str,
) -> None:
    first, second = await open_storage(database_url), await open_storage(database_url)
    try:
        saved = await asyncio.gather(
            *(
                store.save_image(make_image(n, original=PICTURE))
                for n in range(12)
                for store in [(first, second)[n % 2]]
            )
        )
        stored_bytes = await first.recount_stored_bytes()
    finally:
        await first.close()
        await second.close()

    assert sorted(s.original for s in saved).count(Original.KEPT) == 1
    assert stored_bytes == len(PICTURE)


async def test_forget_erases_repeats_with_the_kept_bytes_and_counts_them_off(
    storage: Storage,
) -> None:
    await storage.save_image(make_image(1, original=PICTURE))
    await storage.save_image(make_image(2, original=PICTURE))
    await storage.save_image(make_image(3, user_id=OTHER))

    assert await storage.forget_user(USER) == 2
    report = await storage.status_report(T0 - timedelta(days=1))
    assert report.original_bytes == await storage.recount_stored_bytes() == 2048
    assert (await storage.save_image(make_image(4, original=PICTURE))).original == Original.KEPT


async def test_retention_hands_the_kept_bytes_to_the_newest_repeat_that_stays(
    storage: Storage,
) -> None:
    days = [0, 5, 6]
    saved = [
        await storage.save_image(
            make_image(n, original=PICTURE, received_at=T0 + timedelta(days=day))
        )
        for n, day in enumerate(days)
    ]

    assert await storage.purge_older_than(T0 + timedelta(days=3)) == 1
    middle, newest = [await storage.get_image(s.image_id) for s in saved[1:]]
    assert await storage.get_image(saved[0].image_id) is None
    assert newest is not None
    assert (newest.original, newest.size_bytes, newest.repeated) == (
        PICTURE,
        len(PICTURE),
        False,
    )
    assert middle is not None
    assert (middle.original, middle.repeated) == (b"", True)
    report = await storage.status_report(T0 - timedelta(days=1))
    assert report.original_bytes == await storage.recount_stored_bytes() == len(PICTURE)
    assert len(await storage.training_sample(10)) == 1

    assert await storage.purge_older_than(T0 + timedelta(days=7)) == 2
    assert await storage.recount_stored_bytes() == 0


async def test_the_cap_keeps_what_fits_and_alerts_once_per_level(database_url: str) -> None:
    storage = await open_storage(database_url, stored_bytes_cap=10_000)
    try:
        pictures = [np.random.default_rng(n).bytes(3000) for n in range(5)]
        saved = [
            await storage.save_image(make_image(n, original=picture))
            for n, picture in enumerate(pictures)
        ]
        repeat = await storage.save_image(make_image(9, original=pictures[0]))
        stored = await storage.get_image(saved[3].image_id)
        await storage.forget_user(USER)
        refilled = [
            await storage.save_image(make_image(10 + n, original=picture, user_id=OTHER))
            for n, picture in enumerate(pictures)
        ]
    finally:
        await storage.close()

    kept = [Original.KEPT] * 3
    assert [s.original for s in saved] == [*kept, Original.NOT_KEPT, Original.NOT_KEPT]
    assert [s.alert for s in saved] == [
        None,
        None,
        StorageAlert(full=False, original_bytes=9000, cap=10_000),
        StorageAlert(full=True, original_bytes=9000, cap=10_000),
        None,
    ]
    assert (repeat.original, repeat.alert) == (Original.ALREADY_KEPT, None)
    assert stored is not None
    assert (stored.original, stored.size_bytes, stored.repeated) == (b"", 0, False)
    # Erasing brought the count under both levels: each is said again when reached again.
    assert [s.alert is not None for s in refilled] == [False, False, True, True, False]


async def test_two_replicas_crossing_a_level_together_alert_once(database_url: str) -> None:
    first = await open_storage(database_url, stored_bytes_cap=10_000)
    second = await open_storage(database_url, stored_bytes_cap=10_000)
    try:
        saved = await asyncio.gather(
            *(
                store.save_image(make_image(n, original=np.random.default_rng(n).bytes(1000)))
                for n in range(12)
                for store in [(first, second)[n % 2]]
            )
        )
    finally:
        await first.close()
        await second.close()

    alerts = [s.alert for s in saved if s.alert is not None]
    assert sorted(alert.full for alert in alerts) == [False, True]
    assert [s.original for s in saved].count(Original.KEPT) == 10
