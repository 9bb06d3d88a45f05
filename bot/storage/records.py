"""The plain values that go in and out of the store; none of them holds a database handle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from bot.digit import RecognisedDigit


class StorageError(Exception):
    """Base of the store's own errors."""


class StorageConfigError(StorageError, ValueError):
    """DATABASE_URL names a database the store cannot use; the message says what works."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached or did not answer in time; the bot can apologise."""


@dataclass(frozen=True, slots=True, eq=False)
class IncomingImage:
    """One digit of a photo as the bot received and recognised it, ready to be kept; a photo of
    several is one each, in reading order (compared by identity, as its digit is)."""

    chat_id: int
    user_id: int
    message_id: int
    received_at: datetime
    original: bytes = field(repr=False)
    mime_type: str
    digit: RecognisedDigit
    model_version: str
    digit_index: int = 0  # its place in the photo's reading order
    digit_count: int = 1  # the photo's digits

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")


class Original(StrEnum):
    """What became of a saved photo's bytes as received."""

    KEPT = "kept"
    ALREADY_KEPT = "already kept"  # its sender had sent these bytes before: kept once
    NOT_KEPT = "not kept"  # they would have taken the stored originals over the cap


@dataclass(frozen=True, slots=True)
class StorageAlert:
    """The stored originals nearly fill the cap (`full` False), or one did not fit."""

    full: bool
    original_bytes: int
    cap: int


@dataclass(frozen=True, slots=True)
class SaveResult:
    """``created`` is False for a repeated delivery, which then carries the first row's id.

    ``alert``, when set, is to be pushed to the admins: this save is the one that raised it.
    """

    image_id: int
    created: bool
    answered: bool
    original: Original = Original.KEPT
    alert: StorageAlert | None = None


class DailyUsage(NamedTuple):
    """A user's photos since a time, and the bytes of their originals kept (not repeats)."""

    photos: int
    original_bytes: int


@dataclass(frozen=True, slots=True, eq=False)
class ExportedDigit:
    """One stored digit as its owner's /export lists it: every field they may take away but the
    photo's bytes, which are read apart, a batch at a time. ``size_bytes`` is the original's in
    a photo's first digit's row, 0 in the others. Compare ``id`` or fields, not instances."""

    id: int
    chat_id: int
    message_id: int
    received_at: datetime
    mime_type: str
    size_bytes: int
    digit: RecognisedDigit
    model_version: str
    feedback_digit: int | None
    feedback_at: datetime | None
    digit_index: int
    digit_count: int


@dataclass(frozen=True, slots=True, eq=False)
class StoredImage(ExportedDigit):
    """Every field kept for one image, as read back: what its owner may export, and what the
    bot keeps for itself."""

    user_id: int
    original: bytes = field(repr=False)
    sha256: str
    answered_at: datetime | None
    reply_message_id: int | None
    repeated: bool


@dataclass(frozen=True, slots=True, repr=False)
class ModelFile:
    """A promoted model file as the database keeps it: its bytes and their SHA-256."""

    version: str
    sha256: str
    data: bytes

    @classmethod
    def of(cls, version: str, data: bytes) -> ModelFile:
        """The file with its digest computed now (when it is stored)."""
        return cls(version, hashlib.sha256(data).hexdigest(), data)

    @property
    def intact(self) -> bool:
        """Whether the bytes still hash to the digest stored beside them."""
        return hashlib.sha256(self.data).hexdigest() == self.sha256

    def __repr__(self) -> str:
        return f"ModelFile({self.version!r}, sha256={self.sha256[:12]}…, {len(self.data)} bytes)"


@dataclass(frozen=True, slots=True)
class FloodWindow:
    """A user's updates counted so far in their current window, and when that window ends."""

    updates: int
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class RetrainRun:
    """One retraining run; ``outcome`` is None while it is running."""

    id: int
    trigger: str
    owner: str
    state: str
    started_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    detail: str | None
    metrics: dict | None


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Live accuracy: the share of feedback digits matching the cluster's name or digit."""

    feedback: int
    matching: int

    @property
    def share(self) -> float | None:
        """None when nobody gave feedback yet (0 % would be a lie)."""
        return self.matching / self.feedback if self.feedback else None


class Vote(NamedTuple):
    """How many times (`answers`) one user said `digit` of digits in `cluster`."""

    cluster: int
    digit: int
    user_id: int
    answers: int


@dataclass(frozen=True, slots=True, eq=False)
class AnsweredDigits:
    """A batch of answered digits to assign again; `last_id` continues the reading."""

    last_id: int
    images: np.ndarray = field(repr=False)  # (n, 28, 28) uint8
    digits: list[int]
    users: list[int]


@dataclass(frozen=True, slots=True)
class UserStats:
    """One user's own counts, for their /stats."""

    images: int  # digits: a photo of several counts each
    per_cluster: dict[int, int]
    outliers: int
    feedback: int
    first_at: datetime | None
    last_at: datetime | None
    photos: int


@dataclass(frozen=True, slots=True)
class GlobalStats:
    """Totals for an admin's /stats; ``today`` counts photos from midnight in ``now``'s
    timezone; ``images`` and ``per_cluster`` count digits."""

    images: int
    photos: int
    users: int
    per_cluster: dict[int, int]
    today: int
    accuracy: Accuracy
    last_retrain: RetrainRun | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What happened since ``since``; ``original_bytes`` is every stored original, old or new.
    ``photos`` counts photos, ``per_cluster`` and ``outliers`` digits."""

    since: datetime
    photos: int
    active_users: int
    per_cluster: dict[int, int]
    outliers: int
    accuracy: Accuracy
    original_bytes: int
    retrains: list[RetrainRun]
