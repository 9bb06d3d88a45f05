"""Notifier against a local notify.run stand-in: order, retries, hangs, outages, logs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.notify import Notifier, resolve_endpoint
from bot.pushes import Push
from testkit.fake_notify import FakeNotifyRun, closed_port_url


@pytest.fixture
def no_notify_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.config/notify-run, so only explicit endpoints count."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
async def notifier(fake_notify: FakeNotifyRun) -> AsyncIterator[Notifier]:
    notifier = Notifier(fake_notify.url, timeout=0.5, attempts=3, backoff=0.01)
    await notifier.start()
    yield notifier
    await notifier.close(grace=1)


async def test_pushes_arrive_in_order_with_action(
    fake_notify: FakeNotifyRun, notifier: Notifier
) -> None:
    await notifier.push(Push.of_text("Retraining started (schedule)"))
    await notifier.push(Push.of_text("Retraining done"), action="https://example.org/status")
    await notifier.flush()
    assert fake_notify.messages == ["Retraining started (schedule)", "Retraining done"]
    assert [post.action for post in fake_notify.posts] == [None, "https://example.org/status"]
    assert fake_notify.posts[0].path == "/c/testchannel"
    assert notifier.delivered == 2
    assert notifier.take_failures() == 0


async def test_action_url_is_the_default_action(fake_notify: FakeNotifyRun) -> None:
    notifier = Notifier(fake_notify.url, action_url="https://example.org/dash")
    await notifier.start()
    await notifier.push(Push.of_text("Daily status"))
    await notifier.close()
    assert fake_notify.posts[0].action == "https://example.org/dash"


def test_endpoint_comes_from_notify_run_config_file(
    no_notify_config: Path, fake_notify: FakeNotifyRun
) -> None:
    config = no_notify_config / ".config" / "notify-run"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"endpoint": fake_notify.url}))
    assert resolve_endpoint(None) == fake_notify.url
    assert resolve_endpoint("https://notify.run/other") == "https://notify.run/other"


def test_endpoint_must_be_http(no_notify_config: Path) -> None:
    with pytest.raises(ValueError, match="HTTP or HTTPS"):
        resolve_endpoint("ftp://notify.run/abc")


async def test_without_endpoint_notifications_are_off_with_one_log_line(
    no_notify_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(resolve_endpoint(None))
    with caplog.at_level(logging.INFO, logger="bot.notify"):
        await notifier.start()
        await notifier.push(Push.of_text("nobody hears this"))
        await notifier.flush()
        await notifier.close()
    assert not notifier.enabled
    assert [r.getMessage() for r in caplog.records if "off" in r.getMessage()] != []
    assert len(caplog.records) == 1


async def test_server_error_is_retried_then_delivered(
    fake_notify: FakeNotifyRun, notifier: Notifier
) -> None:
    fake_notify.fail_next(2, 500)
    await notifier.push(Push.of_text("finally"))
    await notifier.flush()
    assert fake_notify.messages == ["finally"]
    assert fake_notify.attempts == 3
    assert notifier.take_failures() == 0


async def test_persistent_500_is_given_up_and_counted_once(
    fake_notify: FakeNotifyRun, notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    fake_notify.status = 500
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        await notifier.push(Push.of_text("lost"))
        await notifier.flush()
    assert fake_notify.attempts == 3
    assert notifier.take_failures() == 1
    assert notifier.take_failures() == 0
    assert "HTTP 500" in caplog.text
    assert fake_notify.url not in caplog.text
    assert "testchannel" not in caplog.text


@pytest.mark.parametrize(
    ("retry_after", "max_backoff"),
    [("0.1", 5.0), ("3600", 0.1)],
    ids=["as asked", "cut to max_backoff"],
)
async def test_429_honours_retry_after_within_the_bound(
    fake_notify: FakeNotifyRun, retry_after: str, max_backoff: float
) -> None:
    """No back-off of its own: the wait between the two attempts is Retry-After, capped."""
    fake_notify.fail_next(1, 429, retry_after=retry_after)
    notifier = Notifier(fake_notify.url, attempts=2, backoff=0.0, max_backoff=max_backoff)
    await notifier.start()
    started = time.perf_counter()
    await notifier.push(Push.of_text("after throttling"))
    await asyncio.wait_for(notifier.flush(), 10)  # an uncapped wait would be an hour
    waited = time.perf_counter() - started
    await notifier.close()
    assert fake_notify.messages == ["after throttling"]
    assert fake_notify.attempts == 2
    assert waited >= min(float(retry_after), max_backoff) == 0.1
    assert notifier.take_failures() == 0


async def test_client_error_is_not_retried(fake_notify: FakeNotifyRun, notifier: Notifier) -> None:
    fake_notify.status = 404
    await notifier.push(Push.of_text("wrong channel"))
    await notifier.flush()
    assert fake_notify.attempts == 1
    assert notifier.take_failures() == 1


async def test_hanging_endpoint_neither_blocks_push_nor_holds_the_worker(
    fake_notify: FakeNotifyRun,
) -> None:
    notifier = Notifier(fake_notify.url, timeout=0.3, attempts=2, backoff=0.0)
    await notifier.start()
    fake_notify.hang()
    await notifier.push(Push.of_text("into the void"))
    ticks = 0
    flushed = asyncio.create_task(notifier.flush())
    while not flushed.done():
        ticks += 1
        await asyncio.sleep(0.01)
    assert ticks > 1, "the event loop kept running while the endpoint hung"
    assert notifier.take_failures() == 1
    fake_notify.release()
    await notifier.push(Push.of_text("back again"))
    await notifier.close()
    assert "back again" in fake_notify.messages


async def test_endpoint_that_is_down_is_counted_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = closed_port_url()
    notifier = Notifier(url, timeout=0.5, attempts=2, backoff=0.0)
    await notifier.start()
    with caplog.at_level(logging.WARNING, logger="bot.notify"):
        await notifier.push(Push.of_text("nobody home"))
        await notifier.close()
    assert notifier.take_failures() == 1
    assert "ConnectionError" in caplog.text
    assert url not in caplog.text


async def test_full_queue_drops_and_counts(fake_notify: FakeNotifyRun) -> None:
    notifier = Notifier(fake_notify.url, queue_size=2)
    for index in range(3):
        await notifier.push(Push.of_text(f"message {index}"))
    assert notifier.take_failures() == 1
    await notifier.start()
    await notifier.close()
    assert fake_notify.messages == ["message 0", "message 1"]


async def test_mirrors_get_every_message_even_when_one_fails(
    fake_notify: FakeNotifyRun,
) -> None:
    received: list[tuple[str, str | None]] = []

    async def broken(push: Push, action: str | None) -> None:
        raise RuntimeError("mirror down")

    async def recording(push: Push, action: str | None) -> None:
        received.append((push.text, action))

    notifier = Notifier(fake_notify.url, mirrors=[broken, recording])
    await notifier.start()
    await notifier.push(Push.of_text("to everyone"), action="https://example.org")
    await notifier.close()
    assert received == [("to everyone", "https://example.org")]
    assert fake_notify.messages == ["to everyone"]
    assert notifier.take_failures() == 0
