"""The per-user daily quota of photos and of the bytes of their pictures kept (UTC days).

Counted from the photos stored today, so it holds across replicas and costs one indexed
query per photo, made before the photo is even downloaded. A picture its sender had sent
before counts as a photo but adds no bytes, since it is not kept again. Photos in flight
when the quota is reached may pass it by a few; the flood limit bounds how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.storage import Storage, StorageUnavailableError


@dataclass(frozen=True)
class QuotaReached:
    """Which limit the user reached today (`photos`, else the bytes), and when the day ends."""

    photos: bool
    limit: int  # photos, or bytes
    seconds_left: float


class DailyQuota:
    """At most `photos` photos and `original_bytes` bytes kept per user per UTC day (0: no
    limit)."""

    def __init__(self, storage: Storage, photos: int, original_bytes: int) -> None:
        self.storage = storage
        self.photos = photos
        self.original_bytes = original_bytes

    async def reached(self, user_id: int) -> QuotaReached | None:
        """The limit the user has reached today, or None (also while the database is out of
        reach: the photo is answered, and the save says it was not kept)."""
        if not self.photos and not self.original_bytes:
            return None
        now = datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            today = await self.storage.photos_since(user_id, midnight)
        except StorageUnavailableError:
            return None
        left = (midnight + timedelta(days=1) - now).total_seconds()
        if self.photos and today.photos >= self.photos:
            return QuotaReached(photos=True, limit=self.photos, seconds_left=left)
        if self.original_bytes and today.original_bytes >= self.original_bytes:
            return QuotaReached(photos=False, limit=self.original_bytes, seconds_left=left)
        return None
