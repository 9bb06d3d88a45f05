"""Per-user sliding-window rate limit for photos, so one user cannot monopolise the model."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Allow at most `limit` events per user in any `period` seconds."""

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be at least 1 and period positive")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._events: dict[int, deque[float]] = {}

    def acquire(self, user_id: int) -> float:
        """Record an event and return 0.0, or return the seconds until the user may try again."""
        now = self._clock()
        events = self._events.setdefault(user_id, deque())
        while events and events[0] <= now - self.period:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.period - now
        events.append(now)
        self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        """Drop users whose window is empty, so memory follows active users, not all users ever."""
        if len(self._events) < 1024:
            return
        idle = [user for user, events in self._events.items() if events[-1] <= now - self.period]
        for user in idle:
            del self._events[user]
