"""What users answered about their digits, read for the clusters' meaning (bot/meanings.py)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, func, select

from bot.digit import MNIST_SHAPE
from bot.storage.records import AnsweredDigits, Vote
from bot.storage.schema import images

ANSWERED = images.c.feedback_digit.is_not(None)  # the digits their sender said the truth of


def votes(engine: Engine, version: str) -> list[Vote]:
    """The answers to digits assigned by model `version`, counted per cluster, digit and user."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(images.c.cluster, images.c.feedback_digit, images.c.user_id, func.count())
            .where(ANSWERED, images.c.model_version == version)
            .group_by(images.c.cluster, images.c.feedback_digit, images.c.user_id)
        )
        return [Vote(*row) for row in rows]


def answered_digits(engine: Engine, version: str, after_id: int, limit: int) -> AnsweredDigits:
    """Up to `limit` answered digits assigned by other models than `version`, ids past
    `after_id`: their 28x28s to assign again, with each one's answer and user."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(images.c.id, images.c.mnist, images.c.feedback_digit, images.c.user_id)
            .where(ANSWERED, images.c.model_version != version, images.c.id > after_id)
            .order_by(images.c.id)
            .limit(limit)
        ).all()
    return AnsweredDigits(
        last_id=rows[-1].id if rows else after_id,
        images=np.stack([np.frombuffer(row.mnist, np.uint8).reshape(MNIST_SHAPE) for row in rows])
        if rows
        else np.empty((0, *MNIST_SHAPE), np.uint8),
        digits=[row.feedback_digit for row in rows],
        users=[row.user_id for row in rows],
    )
