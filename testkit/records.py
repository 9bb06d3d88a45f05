"""Digits as the bot hands them to the store, made up with seeded bytes and pixels."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np

from bot.digit import RecognisedDigit
from bot.storage import IncomingImage

T0 = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)  # when a made-up photo arrived
BOXES = [(10, 20, 60, 90), (80, 18, 120, 95), (150, 25, 200, 88)]  # a made-up page's 3 digits
DIGIT_FIELDS = {field.name for field in dataclasses.fields(RecognisedDigit)}  # mnist, cluster…


def make_image(message_id: int = 1, **fields: object) -> IncomingImage:
    """An image as the bot would hand it over; keyword arguments override fields, the digit's
    (`mnist`, `cluster`, `box`, …) as well as the photo's."""
    rng = np.random.default_rng(message_id)
    photo: dict[str, object] = {
        "chat_id": 1000,
        "user_id": 42,
        "message_id": message_id,
        "received_at": T0,
        "original": rng.bytes(2048),
        "mime_type": "image/jpeg",
        "model_version": "20261120T000000Z-abc123",
    }
    digit: dict[str, object] = {
        "mnist": rng.integers(0, 256, size=(28, 28), dtype=np.uint8),
        "cluster": 3,
        "distance": 12.5,
        "typicality": 0.75,
        "is_outlier": False,
    }
    for name, value in fields.items():
        (digit if name in DIGIT_FIELDS else photo)[name] = value
    return IncomingImage(**photo, digit=RecognisedDigit(**digit))  # type: ignore[arg-type]
