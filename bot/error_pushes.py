"""How often a kind of error is pushed: once per window, with the count since the last push.

A failing dependency can fail every update; one push per kind of error and window says as
much as a thousand, and keeps the public notify.run channel readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ERROR_PUSH_EVERY = 600.0  # seconds between two pushes of one kind of error


class ErrorPushThrottle:
    """Counts errors per kind; `due(kind)` says when one is to be pushed, and how many."""

    def __init__(
        self, every: float = ERROR_PUSH_EVERY, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self._clock = clock
        self._pushed_at: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def due(self, kind: str) -> int | None:
        """Count one error of `kind`; the number since the last push (this one included) when
        this one is to be pushed, else None."""
        self._since[kind] = self._since.get(kind, 0) + 1
        now = self._clock()
        last = self._pushed_at.get(kind)
        if last is not None and now - last < self.every:
            return None
        self._pushed_at[kind] = now
        return self._since.pop(kind)
