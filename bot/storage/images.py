"""Images: keeping each photo once, its feedback, erasure and retention (synchronous SQL).

These functions run in the store's worker threads; ``Storage`` is their async face.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, Row, delete, select, update

from bot.storage.engine import upsert_insert
from bot.storage.records import MNIST_SHAPE, IncomingImage, SaveResult, StoredImage
from bot.storage.schema import cluster_names, images

DUPLICATE_RETRIES = 3


def save_image(engine: Engine, image: IncomingImage) -> SaveResult:
    """Insert the image unless its (chat, message) is already stored; the database decides.

    ON CONFLICT DO NOTHING makes concurrent deliveries wait for the first insert and then
    find its row, instead of failing. The loop covers the row being erased in between.
    """
    values = {
        "chat_id": image.chat_id,
        "user_id": image.user_id,
        "message_id": image.message_id,
        "received_at": image.received_at,
        "original": image.original,
        "mime_type": image.mime_type,
        "size_bytes": len(image.original),
        "sha256": hashlib.sha256(image.original).hexdigest(),
        "mnist": np.ascontiguousarray(image.mnist).tobytes(),
        "cluster": int(image.cluster),
        "distance": float(image.distance),
        "typicality": float(image.typicality),
        "is_outlier": bool(image.is_outlier),
        "model_version": image.model_version,
    }
    statement = (
        upsert_insert(engine, images)
        .values(values)
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
        .returning(images.c.id)
    )
    existing = select(images.c.id, images.c.answered_at).where(
        images.c.chat_id == image.chat_id, images.c.message_id == image.message_id
    )
    for _ in range(DUPLICATE_RETRIES):
        with engine.begin() as connection:
            image_id = connection.execute(statement).scalar()
            if image_id is not None:
                return SaveResult(image_id=image_id, created=True, answered=False)
            row = connection.execute(existing).first()
            if row is not None:
                return SaveResult(
                    image_id=row.id, created=False, answered=row.answered_at is not None
                )
    raise RuntimeError(f"image {image.chat_id}/{image.message_id} kept vanishing while saved")


def mark_answered(engine: Engine, image_id: int, now: datetime) -> bool:
    """True when this call marked the image answered; False when it already was (or is gone)."""
    with engine.begin() as connection:
        result = connection.execute(
            update(images)
            .where(images.c.id == image_id, images.c.answered_at.is_(None))
            .values(answered_at=now)
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


def get_image(engine: Engine, image_id: int) -> StoredImage | None:
    """Every stored field of one image, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(images).where(images.c.id == image_id)).first()
    return None if row is None else _stored(row)


def find_image(engine: Engine, chat_id: int, message_id: int) -> StoredImage | None:
    """The image a Telegram message carried, or None."""
    query = select(images).where(images.c.chat_id == chat_id, images.c.message_id == message_id)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else _stored(row)


def forget_user(engine: Engine, user_id: int) -> int:
    """Erase the user's images and unlink their name from cluster names they set."""
    with engine.begin() as connection:
        erased = connection.execute(delete(images).where(images.c.user_id == user_id)).rowcount
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
    """Columns and fields share their names; only the two blobs need converting."""
    fields = dict(row._mapping)
    fields["original"] = bytes(row.original)
    fields["mnist"] = np.frombuffer(row.mnist, dtype=np.uint8).reshape(MNIST_SHAPE).copy()
    return StoredImage(**fields)
