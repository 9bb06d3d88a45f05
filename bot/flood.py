"""The per-user flood limit on every update (texts, commands, buttons, photos), before any work.

The count lives in the database (`Storage.count_update`), so the limit holds however many
replicas share the updates. A user over the limit gets one notice, from the update that
crosses it, and then silence until their window ends. The limit fails open: while the
database cannot count, every update is handled as if there were no limit, since a bot that
stops answering everyone is worse than one that answers a flood.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.storage import FloodWindow, Storage, StorageUnavailableError

log = logging.getLogger(__name__)

# Seconds a count may take before the update goes through uncounted: a database that hangs
# rather than fails must not hold every update for its connection timeout.
COUNT_BUDGET = 2.0


@dataclass(frozen=True)
class Verdict:
    """Handle the update (`allowed`), or drop it: with the notice (`notify`) the first time;
    `wait` is the seconds until the user's window ends."""

    allowed: bool
    notify: bool = False
    wait: float = 0.0


ALLOWED = Verdict(allowed=True)  # the verdict of every update within the limit


class FloodLimit:
    """At most `limit` updates per user in a window of `period` seconds, across replicas."""

    def __init__(
        self, storage: Storage, limit: int, period: float, *, budget: float = COUNT_BUDGET
    ) -> None:
        self.storage = storage
        self.limit = limit
        self.period = period
        self.budget = budget
        self._failing = False

    async def check(self, user_id: int) -> Verdict:
        """Count the update and say what to do with it."""
        try:
            window = await self._count(user_id)
        except StorageUnavailableError as exc:
            return self._fail_open(str(exc))
        except TimeoutError:
            return self._fail_open(f"counting took longer than {self.budget:g} s")
        if self._failing:
            log.info("flood limit on again: the database counts updates")
            self._failing = False
        if window.updates <= self.limit:
            return ALLOWED
        wait = (window.ends_at - datetime.now(UTC)).total_seconds()
        return Verdict(allowed=False, notify=window.updates == self.limit + 1, wait=max(wait, 0.0))

    def _fail_open(self, reason: str) -> Verdict:
        """Let the update through; say so in the log once per outage, not once per update."""
        if not self._failing:
            log.warning("flood limit off until the database counts again: %s", reason)
            self._failing = True
        return ALLOWED

    async def _count(self, user_id: int) -> FloodWindow:
        """The count, or TimeoutError after `budget` seconds (the count goes on and is kept)."""
        counting = asyncio.ensure_future(self.storage.count_update(user_id, self.period))
        try:
            done, _ = await asyncio.wait({counting}, timeout=self.budget)
        finally:
            if not counting.done():
                counting.add_done_callback(_ignore_outcome)
        if not done:
            raise TimeoutError
        return counting.result()


def _ignore_outcome(task: asyncio.Future[FloodWindow]) -> None:
    """Collect a late count's result or error, which nobody waits for any more."""
    if not task.cancelled():
        task.exception()
