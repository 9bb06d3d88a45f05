"""The store keeps a photo of several digits as a row per digit, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import event, text

from bot.storage import IncomingImage, Storage, images, open_storage
from bot.storage.engine import alembic_config, create_db_engine, upgrade
from testkit.records import BOXES, T0, make_image


def _photo(message_id: int = 1, user_id: int = 42) -> list[IncomingImage]:
    first = make_image(message_id, user_id=user_id)
    return [
        make_image(
            message_id,
            user_id=user_id,
            original=first.original,
            cluster=cluster,
            digit_index=index,
            digit_count=len(BOXES),
            box=box,
            touching=index == 2,
        )
        for index, (cluster, box) in enumerate(zip([7, 4, 2], BOXES, strict=True))
    ]


async def test_each_digit_is_a_row_with_its_box_and_the_photo_kept_once(storage: Storage) -> None:
    digits = _photo()
    saved = await storage.save_photo(digits)
    assert await storage.mark_answered(saved.image_id, reply_message_id=900)

    stored = await storage.reply_digits(1000, 900)
    assert [s.digit_index for s in stored] == [0, 1, 2]
    assert stored[0].id == saved.image_id
    assert [s.digit.box for s in stored] == BOXES
    assert [s.digit.cluster for s in stored] == [7, 4, 2]
    assert [s.digit.touching for s in stored] == [False, False, True]
    assert [s.original for s in stored] == [digits[0].original, b"", b""]
    assert {s.sha256 for s in stored} == {stored[0].sha256}
    assert all((s.digit.mnist == d.digit.mnist).all() for s, d in zip(stored, digits, strict=True))
    first = await storage.find_image(1000, 1)
    assert first is not None
    assert first.id == saved.image_id
    report = await storage.status_report(digits[0].received_at)
    assert report.original_bytes == len(digits[0].original)
    assert report.photos == 1
    assert report.per_cluster == {7: 1, 4: 1, 2: 1}
    totals = await storage.global_stats(digits[0].received_at)
    assert (totals.photos, totals.images, totals.today) == (1, 3, 1)


async def test_a_repeated_delivery_keeps_the_photo_once(storage: Storage) -> None:
    results = await asyncio.gather(*(storage.save_photo(_photo()) for _ in range(4)))

    assert sum(result.created for result in results) == 1
    assert {result.image_id for result in results} == {results[0].image_id}
    stats = await storage.user_stats(42)
    assert (stats.photos, stats.images) == (1, 3)
    assert len(await storage.training_sample(100)) == 3


async def test_the_number_labels_every_digit_or_none(storage: Storage) -> None:
    saved = await storage.save_photo(_photo())
    await storage.mark_answered(saved.image_id, reply_message_id=900)
    ids = [s.id for s in await storage.reply_digits(1000, 900)]
    other = await storage.save_photo(_photo(message_id=2, user_id=43))

    assert not await storage.set_photo_feedback([*ids[:2], other.image_id], 42, [7, 4, 2])
    assert [s.feedback_digit for s in await storage.reply_digits(1000, 900)] == [None] * 3
    assert await storage.set_photo_feedback(ids, 42, [7, 4, 2])
    assert [s.feedback_digit for s in await storage.reply_digits(1000, 900)] == [7, 4, 2]
    assert (await storage.user_stats(42)).feedback == 3


async def test_forget_counts_photos_and_erases_every_digit(storage: Storage) -> None:
    await storage.save_photo(_photo(message_id=1))
    await storage.save_image(make_image(message_id=2))
    await storage.save_photo(_photo(message_id=3, user_id=43))

    assert await storage.forget_user(42) == 2
    assert (await storage.user_stats(42)).images == 0
    assert (await storage.user_stats(43)).images == 3


async def test_downgrading_below_0004_keeps_each_photo_as_its_first_digit(
    database_url: str,
) -> None:
    storage = await open_storage(database_url)
    await storage.save_photo(_photo())
    await storage.close()
    engine = create_db_engine(database_url, pool_size=1)
    try:
        command.downgrade(alembic_config(engine), "0003")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT message_id, cluster FROM images")).all()
        upgrade(engine)
    finally:
        engine.dispose()

    assert [tuple(row) for row in rows] == [(1, 7)]


async def test_the_row_holding_the_bytes_is_rewritten_once_when_answered(
    database_url: str,
) -> None:
    """An UPDATE rewrites a row whole, the photo's bytes with it (and secure_delete zeroes the
    old copy): answering a photo of one digit updates its row once, of several the others too."""
    storage = await open_storage(database_url)
    await storage.close()
    engine = create_db_engine(database_url, pool_size=1)
    updates: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    try:
        one = images.save_photo(engine, [make_image(1)], None)
        several = images.save_photo(engine, _photo(message_id=2), None)
        event.listen(engine, "before_cursor_execute", note)
        assert images.mark_answered(engine, one.image_id, T0, reply_message_id=900)
        assert len(updates) == 1
        assert images.mark_answered(engine, several.image_id, T0, reply_message_id=901)
        assert len(updates) == 3
        assert not images.mark_answered(engine, one.image_id, T0, reply_message_id=902)
        assert [s.id for s in images.reply_digits(engine, 1000, 900)] == [one.image_id]
        assert len(images.reply_digits(engine, 1000, 901)) == 3
    finally:
        engine.dispose()
