"""The per-user sliding window, driven by an explicit clock."""

from __future__ import annotations

import pytest

from bot.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_user_and_when_to_retry() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 60.0, clock)
    assert [limiter.acquire(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    assert limiter.acquire(1) == pytest.approx(50.0)
    assert limiter.acquire(2) == 0.0
    clock.now += 50
    assert limiter.acquire(1) == 0.0


def test_window_slides_rather_than_resets() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, 10.0, clock)
    limiter.acquire(1)
    clock.now += 6
    limiter.acquire(1)
    clock.now += 5
    assert limiter.acquire(1) == 0.0
    assert limiter.acquire(1) == pytest.approx(5.0)


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, 1.0, clock)
    for user in range(1024):
        limiter.acquire(user)
    clock.now += 2
    limiter.acquire(5000)
    assert len(limiter._events) == 1


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingWindowLimiter(0, 60.0)
