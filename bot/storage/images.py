"""Images: keeping each photo once, its feedback, erasure and retention (synchronous SQL).

These functions run in the store's worker threads; ``Storage`` is their async face.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, Row, delete, func, insert, select, tuple_, update

from bot.storage.engine import upsert_insert
from bot.storage.records import MNIST_SHAPE, IncomingImage, SaveResult, StoredImage
from bot.storage.schema import cluster_names, flood_windows, images

DUPLICATE_RETRIES = 3


def save_photo(engine: Engine, digits: Sequence[IncomingImage]) -> SaveResult:
    """Insert a photo's digits, one row each, unless its (chat, message) is already stored.

    ON CONFLICT DO NOTHING on the first digit makes concurrent deliveries wait for the first
    insert and then find its row, instead of failing; the other digits go in the same
    transaction. The photo's bytes are kept once, with its first digit. The loop covers the
    rows being erased in between. The result carries the first digit's id.
    """
    first, *others = digits
    statement = (
        upsert_insert(engine, images)
        .values(_values(first, first.original))
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id", "digit_index"])
        .returning(images.c.id)
    )
    existing = select(images.c.id, images.c.answered_at).where(
        images.c.chat_id == first.chat_id,
        images.c.message_id == first.message_id,
        images.c.digit_index == 0,
    )
    for _ in range(DUPLICATE_RETRIES):
        with engine.begin() as connection:
            image_id = connection.execute(statement).scalar()
            if image_id is not None:
                if others:
                    connection.execute(insert(images), [_values(d, b"") for d in others])
                return SaveResult(image_id=image_id, created=True, answered=False)
            row = connection.execute(existing).first()
            if row is not None:
                return SaveResult(
                    image_id=row.id, created=False, answered=row.answered_at is not None
                )
    raise RuntimeError(f"image {first.chat_id}/{first.message_id} kept vanishing while saved")


def _values(image: IncomingImage, original: bytes) -> dict[str, object]:
    box = image.box or (None, None, None, None)
    return {
        "chat_id": image.chat_id,
        "user_id": image.user_id,
        "message_id": image.message_id,
        "received_at": image.received_at,
        "original": original,
        "mime_type": image.mime_type,
        "size_bytes": len(original),
        "sha256": hashlib.sha256(image.original).hexdigest(),
        "mnist": np.ascontiguousarray(image.mnist).tobytes(),
        "cluster": int(image.cluster),
        "distance": float(image.distance),
        "typicality": float(image.typicality),
        "is_outlier": bool(image.is_outlier),
        "model_version": image.model_version,
        "digit_index": image.digit_index,
        "digit_count": image.digit_count,
        "box_x0": box[0],
        "box_y0": box[1],
        "box_x1": box[2],
        "box_y1": box[3],
        "touching": image.touching,
    }


def mark_answered(
    engine: Engine, image_id: int, now: datetime, reply_message_id: int | None = None
) -> bool:
    """True when this call marked the image answered; False when it already was (or is gone).

    `reply_message_id`, the bot's reply, goes on every digit of the photo, so that a number
    sent in reply to it finds them.
    """
    with engine.begin() as connection:
        result = connection.execute(
            update(images)
            .where(images.c.id == image_id, images.c.answered_at.is_(None))
            .values(answered_at=now)
        )
        if result.rowcount == 1 and reply_message_id is not None:
            photo = select(images.c.chat_id, images.c.message_id).where(images.c.id == image_id)
            connection.execute(
                update(images)
                .where(tuple_(images.c.chat_id, images.c.message_id).in_(photo))
                .values(reply_message_id=reply_message_id)
            )
        return result.rowcount == 1


def set_feedback(engine: Engine, image_id: int, user_id: int, digit: int, now: datetime) -> bool:
    """Record the digit only on that user's own image; a forged button changes nothing."""
    if not 0 <= digit <= 9:
        raise ValueError(f"feedback digit must be 0-9, got {digit}")
    with engine.begin() as connection:
        result = connection.execute(
            update(images)
            .where(images.c.id == image_id, images.c.user_id == user_id)
            .values(feedback_digit=digit, feedback_at=now)
        )
        return result.rowcount == 1


def set_photo_feedback(
    engine: Engine, image_ids: Sequence[int], user_id: int, digits: Sequence[int], now: datetime
) -> bool:
    """Record each digit of a photo, in order, only on that user's own rows; all or none."""
    if len(image_ids) != len(digits) or not all(0 <= digit <= 9 for digit in digits):
        raise ValueError(f"one digit 0-9 per image wanted, got {list(digits)}")
    with engine.connect() as connection, connection.begin() as transaction:
        for image_id, digit in zip(image_ids, digits, strict=True):
            result = connection.execute(
                update(images)
                .where(images.c.id == image_id, images.c.user_id == user_id)
                .values(feedback_digit=digit, feedback_at=now)
            )
            if result.rowcount != 1:
                transaction.rollback()
                return False
    return True


def reply_digits(engine: Engine, chat_id: int, reply_message_id: int) -> list[StoredImage]:
    """The digits of the photo the bot answered with message `reply_message_id`, in order."""
    query = (
        select(images)
        .where(images.c.chat_id == chat_id, images.c.reply_message_id == reply_message_id)
        .order_by(images.c.digit_index)
    )
    with engine.connect() as connection:
        return [_stored(row) for row in connection.execute(query)]


def get_image(engine: Engine, image_id: int) -> StoredImage | None:
    """Every stored field of one image, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(images).where(images.c.id == image_id)).first()
    return None if row is None else _stored(row)


def find_image(engine: Engine, chat_id: int, message_id: int) -> StoredImage | None:
    """The image a Telegram message carried (its first digit), or None."""
    query = select(images).where(
        images.c.chat_id == chat_id, images.c.message_id == message_id, images.c.digit_index == 0
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else _stored(row)


def forget_user(engine: Engine, user_id: int) -> int:
    """Erase the user's images and flood count, and unlink their name from cluster names they
    set; returns how many photos were erased (with every digit of each)."""
    mine = images.c.user_id == user_id
    with engine.begin() as connection:
        erased = connection.execute(
            select(func.count()).where(mine, images.c.digit_index == 0)
        ).scalar_one()
        connection.execute(delete(images).where(mine))
        connection.execute(delete(flood_windows).where(flood_windows.c.user_id == user_id))
        connection.execute(
            update(cluster_names).where(cluster_names.c.set_by == user_id).values(set_by=None)
        )
    _flush_erased(engine)
    return erased


def purge_older_than(engine: Engine, cutoff: datetime) -> int:
    """Delete images received before ``cutoff``; returns how many."""
    with engine.begin() as connection:
        purged = connection.execute(delete(images).where(images.c.received_at < cutoff)).rowcount
    _flush_erased(engine)
    return purged


def _flush_erased(engine: Engine) -> None:
    """Make erasure real on disk: SQLite's WAL still holds the erased pages until a checkpoint.

    secure_delete has zeroed the freed pages; the checkpoint writes them into the file and
    truncates the WAL. PostgreSQL's (auto)vacuum reclaims dead rows on its own schedule.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def training_images(engine: Engine, include_outliers: bool) -> np.ndarray:
    """Users' 28x28 images, oldest first, as (n, 28, 28) uint8; never their feedback."""
    query = select(images.c.mnist).order_by(images.c.id)
    if not include_outliers:
        query = query.where(images.c.is_outlier.is_(False))
    with engine.connect() as connection:
        blobs = connection.execute(query).scalars().all()
    if not blobs:
        return np.empty((0, *MNIST_SHAPE), dtype=np.uint8)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, *MNIST_SHAPE).copy()


def _stored(row: Row) -> StoredImage:
    """Columns and fields share their names; the two blobs and the box need converting."""
    fields = dict(row._mapping)
    box = tuple(fields.pop(name) for name in ("box_x0", "box_y0", "box_x1", "box_y1"))
    fields["box"] = None if box[0] is None else box
    fields["original"] = bytes(row.original)
    fields["mnist"] = np.frombuffer(row.mnist, dtype=np.uint8).reshape(MNIST_SHAPE).copy()
    return StoredImage(**fields)
