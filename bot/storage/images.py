"""Images: keeping each photo once, its feedback, and reading it back (synchronous SQL).

These functions run in the store's worker threads; ``Storage`` is their async face.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Engine, Row, bindparam, func, insert, select, tuple_, update

from bot.digit import MNIST_SHAPE, RecognisedDigit
from bot.storage import usage
from bot.storage.engine import dialect_insert
from bot.storage.records import DailyUsage, IncomingImage, Original, SaveResult, StoredImage
from bot.storage.schema import FIRST_DIGIT, images
from model.serving.photo.box import Box

DUPLICATE_RETRIES = 3  # saves of one photo retried while rows are erased in between
# The columns a recognised digit is kept in (`digit_columns` writes them, `read_digit` reads).
DIGIT_COLUMNS = (
    images.c.mnist,
    images.c.cluster,
    images.c.distance,
    images.c.typicality,
    images.c.is_outlier,
    images.c.box_x0,
    images.c.box_y0,
    images.c.box_x1,
    images.c.box_y1,
    images.c.touching,
)


# What every photo runs, built once: building a statement costs more than running it.
_SAVED = select(images.c.id, images.c.answered_at, images.c.size_bytes, images.c.repeated).where(
    images.c.chat_id == bindparam("chat"),
    images.c.message_id == bindparam("message"),
    FIRST_DIGIT,
)
# None: never sent before; 0: sent, but not kept; more: kept, that many bytes.
_SENT_BEFORE = select(func.max(images.c.size_bytes)).where(
    images.c.user_id == bindparam("user"),
    images.c.sha256 == bindparam("sha256"),
    FIRST_DIGIT,
)
_PHOTOS_SINCE = select(func.count(), func.coalesce(func.sum(images.c.size_bytes), 0)).where(
    images.c.user_id == bindparam("user"),
    images.c.received_at >= bindparam("since"),
    FIRST_DIGIT,
)
# The first digit's row holds the photo's bytes, and an UPDATE rewrites a row whole: it is
# updated once, the other digits' rows (no bytes) only when the photo has several.
_ANSWERED = (
    update(images)
    .where(images.c.id == bindparam("image"), images.c.answered_at.is_(None))
    .values(answered_at=bindparam("now"), reply_message_id=bindparam("reply"))
    .returning(images.c.digit_count)
)
_REPLY_ON_OTHER_DIGITS = (
    update(images)
    .where(
        tuple_(images.c.chat_id, images.c.message_id).in_(
            select(images.c.chat_id, images.c.message_id).where(images.c.id == bindparam("image"))
        ),
        images.c.id != bindparam("image"),
    )
    .values(reply_message_id=bindparam("reply"))
)


@cache
def _first_digit_insert(dialect: str) -> Any:
    """A photo's first digit, unless its (chat, message) is stored already."""
    return (
        dialect_insert(dialect, images)
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id", "digit_index"])
        .returning(images.c.id)
    )


def save_photo(engine: Engine, digits: Sequence[IncomingImage], cap: int | None) -> SaveResult:
    """Insert a photo's digits, one row each, unless its (chat, message) is already stored.

    The photo's bytes are kept once, with its first digit, and only if their sender has no
    copy stored already (a photo sent again is marked `repeated` and keeps none) and they fit
    under `cap` (None: no cap). The count of stored bytes is taken first and held to the end,
    so saves and erasures go one at a time (`usage.lock`). ON CONFLICT DO NOTHING on the first
    digit still covers a release that does not take it; the loop covers the rows being erased
    in between. The result carries the first digit's id.
    """
    first, *others = digits
    sha256 = hashlib.sha256(first.original).hexdigest()
    for _ in range(DUPLICATE_RETRIES):
        with engine.begin() as connection:
            count = usage.lock(connection)
            held = connection.execute(
                _SENT_BEFORE, {"user": first.user_id, "sha256": sha256}
            ).scalar()
            size = len(first.original)
            keep = not held and usage.fits(count, size, cap)
            repeated = held is not None
            values = _values(first, first.original if keep else b"", sha256, repeated)
            image_id = connection.execute(_first_digit_insert(engine.dialect.name), values).scalar()
            if image_id is None:
                saved = {"chat": first.chat_id, "message": first.message_id}
                row = connection.execute(_SAVED, saved).first()
                if row is None:
                    continue
                return SaveResult(
                    image_id=row.id,
                    created=False,
                    answered=row.answered_at is not None,
                    original=_original(row.size_bytes, row.repeated),
                )
            if others:
                rows = [_values(d, b"", sha256, repeated) for d in others]
                connection.execute(insert(images), rows)
            if keep:
                original, alert = Original.KEPT, usage.kept(connection, count, size, cap)
            elif held:
                original, alert = Original.ALREADY_KEPT, None
            else:
                assert cap is not None  # nothing else refuses bytes
                original, alert = Original.NOT_KEPT, usage.refused(connection, count, cap)
            return SaveResult(
                image_id, created=True, answered=False, original=original, alert=alert
            )
    raise RuntimeError(f"image {first.chat_id}/{first.message_id} kept vanishing while saved")


def _original(size_bytes: int, repeated: bool) -> Original:
    """What became of a stored photo's bytes, from its first digit's row."""
    if size_bytes:
        return Original.KEPT
    return Original.ALREADY_KEPT if repeated else Original.NOT_KEPT


def _values(
    image: IncomingImage, original: bytes, sha256: str, repeated: bool
) -> dict[str, object]:
    return {
        "chat_id": image.chat_id,
        "user_id": image.user_id,
        "message_id": image.message_id,
        "received_at": image.received_at,
        "original": original,
        "mime_type": image.mime_type,
        "size_bytes": len(original),
        "sha256": sha256,
        **digit_columns(image.digit),
        "model_version": image.model_version,
        "digit_index": image.digit_index,
        "digit_count": image.digit_count,
        "repeated": repeated,
    }


def digit_columns(digit: RecognisedDigit) -> dict[str, object]:
    """The columns a digit is kept in: its 28x28's bytes, its assignment, its box (or NULLs)."""
    box = digit.box or (None, None, None, None)
    return {
        "mnist": np.ascontiguousarray(digit.mnist).tobytes(),
        "cluster": int(digit.cluster),
        "distance": float(digit.distance),
        "typicality": float(digit.typicality),
        "is_outlier": bool(digit.is_outlier),
        "box_x0": box[0],
        "box_y0": box[1],
        "box_x1": box[2],
        "box_y1": box[3],
        "touching": digit.touching,
    }


def photos_since(engine: Engine, user_id: int, since: datetime) -> DailyUsage:
    """The user's photos received since `since`, and the bytes of their originals kept."""
    with engine.connect() as connection:
        parameters = {"user": user_id, "since": since}
        photos, original_bytes = connection.execute(_PHOTOS_SINCE, parameters).one()
    return DailyUsage(photos=photos, original_bytes=int(original_bytes))


def mark_answered(
    engine: Engine, image_id: int, now: datetime, reply_message_id: int | None = None
) -> bool:
    """True when this call marked the image answered; False when it already was (or is gone).

    `reply_message_id`, the bot's reply, goes on every digit of the photo, so that a number
    sent in reply to it finds them.
    """
    reply = {"image": image_id, "reply": reply_message_id}
    with engine.begin() as connection:
        digits = connection.execute(_ANSWERED, reply | {"now": now}).scalar()
        if digits is not None and digits > 1 and reply_message_id is not None:
            connection.execute(_REPLY_ON_OTHER_DIGITS, reply)
        return digits is not None


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
        images.c.chat_id == chat_id, images.c.message_id == message_id, FIRST_DIGIT
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else _stored(row)


def _stored(row: Row) -> StoredImage:
    """Columns and fields share their names; the digit's are gathered, the original copied."""
    fields = dict(row._mapping)
    for column in DIGIT_COLUMNS:
        del fields[column.name]
    fields["original"] = bytes(row.original)
    return StoredImage(**fields, digit=read_digit(row))


def read_digit(row: Row) -> RecognisedDigit:
    """The digit a row keeps (`digit_columns` read back)."""
    return RecognisedDigit(
        mnist=np.frombuffer(row.mnist, dtype=np.uint8).reshape(MNIST_SHAPE).copy(),
        cluster=row.cluster,
        distance=row.distance,
        typicality=row.typicality,
        is_outlier=row.is_outlier,
        box=None if row.box_x0 is None else Box(row.box_x0, row.box_y0, row.box_x1, row.box_y1),
        touching=row.touching,
    )
