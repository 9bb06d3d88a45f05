"""notify.run pushes that never block or crash the bot.

`Notifier.push` only puts the message on a bounded queue; one background task delivers
the queue in order through a small dedicated thread pool, retrying a bounded number of
times. Optional mirrors (for example `TelegramMirror`) receive every push too. Every push
is said in the notifier's `language` (PUSH_LANGUAGE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from notify_run import Notify
from telegram import Bot
from telegram.error import TelegramError

from bot.i18n import SOURCE_LANGUAGE
from bot.pushes import Push

log = logging.getLogger(__name__)

Mirror = Callable[[Push, str | None], Awaitable[None]]
Draw = Callable[[Callable[[], bytes]], Awaitable[bytes]]

TIMEOUT = 5.0  # seconds to connect to notify.run, and again to read its answer
ATTEMPTS = 3  # posts of one push before it is given up (network errors, 5xx, 429)
BACKOFF = 1.0  # seconds before the first retry, doubled for each next one
MAX_BACKOFF = 30.0  # the longest wait between two attempts, Retry-After included
QUEUE_SIZE = 100  # pushes waiting at most; a push beyond them is dropped and counted
CLOSE_GRACE = 10.0  # seconds a stop waits for the queued pushes
CAPTION_LIMIT = 1024  # Telegram's limit on a photo caption


def resolve_endpoint(endpoint: str | None) -> str | None:
    """The notify.run endpoint: `endpoint` if given, else notify-run's own configuration file.

    notify-run validates the URL scheme (ValueError) and knows where its configuration
    lives (`~/.config/notify-run`, written by `notify-run register/configure`), so the
    bot accepts the same setup as the command-line tool.
    """
    return Notify(endpoint=endpoint or None).endpoint or None


class PushError(Exception):
    """A failed push attempt; `retryable` for network errors, 5xx and 429."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Queued:
    push: Push  # already said in the notifier's language
    action: str | None


class Notifier:
    """Deliver pushes to a notify.run endpoint in order, off the event loop.

    notify-run's `Notify.send` calls `requests.post` with no timeout and ignores HTTP
    errors, so a hanging endpoint would hold a thread forever and a 500 or 429 would look
    delivered. The endpoint is therefore resolved by notify-run (`resolve_endpoint`), but
    posted here with the same form fields (`message`, `action`) through our own
    `requests.Session` with a connect/read timeout and a status check. That timeout bounds
    how long one worker can be held; `attempts` and `backoff` bound the retries.
    """

    def __init__(
        self,
        endpoint: str | None,
        *,
        action_url: str | None = None,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        queue_size: int = QUEUE_SIZE,
        mirrors: Sequence[Mirror] = (),
        language: str = SOURCE_LANGUAGE,
    ) -> None:
        self.endpoint = endpoint
        self.language = language
        self.action_url = action_url
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.mirrors = list(mirrors)
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue(maxsize=queue_size)
        self._failures = 0
        self._delivered = 0
        self._worker: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-run")
        self._session = requests.Session()

    @property
    def enabled(self) -> bool:
        """True when pushes go somewhere (an endpoint or at least one mirror)."""
        return bool(self.endpoint or self.mirrors)

    @property
    def delivered(self) -> int:
        """Pushes delivered to the endpoint since start."""
        return self._delivered

    def mirrors_to(self, chat_id: int) -> bool:
        """True when every push already reaches `chat_id` in Telegram (an admin mirror)."""
        return any(
            isinstance(mirror, TelegramMirror) and chat_id in mirror.admin_ids
            for mirror in self.mirrors
        )

    def take_failures(self) -> int:
        """Failed pushes since the last call: the status report counts and resets them."""
        failures, self._failures = self._failures, 0
        return failures

    async def start(self) -> None:
        """Start the delivery task; logs once whether notifications are on."""
        if not self.endpoint:
            log.info("notify.run notifications are off: no NOTIFY_RUN_ENDPOINT and no config file")
        if self._worker is None and self.enabled:
            self._worker = asyncio.create_task(self._deliver_forever(), name="notify-run")

    async def push(self, push: Push, action: str | None = None) -> None:
        """Queue `push`, said in `language`; never raises, never waits for the network.

        `action` defaults to `action_url` (STATUS_URL). When the queue is full the push is
        dropped and counted as a failure rather than waiting.
        """
        if not self.enabled:
            return
        try:
            self._queue.put_nowait(_Queued(self.in_push_language(push), action or self.action_url))
        except asyncio.QueueFull:
            self._failures += 1
            log.warning("notification dropped: %d pushes already waiting", self._queue.qsize())

    def in_push_language(self, push: Push) -> Push:
        """`push` said in `language` (PUSH_LANGUAGE)."""
        return push.in_language(self.language)

    async def flush(self) -> None:
        """Wait until every queued push has been delivered or given up."""
        if self._worker is not None:
            await self._queue.join()

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Deliver what is queued (waiting at most `grace` seconds), then stop."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    async def _deliver_forever(self) -> None:
        while True:
            queued = await self._queue.get()
            try:
                await self._deliver(queued)
            except Exception:
                self._failures += 1
                log.exception("notification delivery crashed")
            finally:
                self._queue.task_done()

    async def _deliver(self, queued: _Queued) -> None:
        for mirror in self.mirrors:
            try:
                await mirror(queued.push, queued.action)
            except Exception as exc:
                log.warning("notification mirror failed: %s", type(exc).__name__)
        if self.endpoint and not await self._post_with_retries(queued.push.text, queued.action):
            self._failures += 1

    async def _post_with_retries(self, message: str, action: str | None) -> bool:
        loop = asyncio.get_running_loop()
        for attempt in range(1, self.attempts + 1):
            try:
                await asyncio.wait_for(
                    loop.run_in_executor(self._pool, self._post, message, action),
                    timeout=2 * self.timeout + 1,
                )
            except (PushError, TimeoutError) as exc:
                reason = str(exc) or "no answer in time"
                log.warning(
                    "notify.run push failed (%s), attempt %d/%d", reason, attempt, self.attempts
                )
                if isinstance(exc, PushError) and not exc.retryable:
                    return False
                if attempt < self.attempts:
                    delay = self.backoff * 2 ** (attempt - 1)
                    retry_after = exc.retry_after if isinstance(exc, PushError) else None
                    await asyncio.sleep(min(self.max_backoff, max(delay, retry_after or 0)))
                continue
            self._delivered += 1
            return True
        log.error("notify.run push given up after %d attempts", self.attempts)
        return False

    def _post(self, message: str, action: str | None) -> None:
        """One POST like notify-run's, bounded by `timeout`; raises PushError to retry."""
        try:
            response = self._session.post(
                self.endpoint or "",
                data={"message": message, "action": action},
                timeout=(self.timeout, self.timeout),
            )
        except requests.RequestException as exc:
            raise PushError(type(exc).__name__, retryable=True) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise PushError(f"HTTP {status}", retryable=True, retry_after=_retry_after(response))
        if status >= 400:
            raise PushError(f"HTTP {status}", retryable=False)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


class TelegramMirror:
    """Send every push to the admins in Telegram too (NOTIFY_TELEGRAM_ADMINS=true).

    A push that comes with a picture goes as a photo captioned with the text; `draw` runs
    the picture's drawing off the event loop (the bot passes its model thread pool).
    """

    def __init__(self, bot: Bot, admin_ids: Sequence[int], *, draw: Draw) -> None:
        self.bot = bot
        self.admin_ids = list(admin_ids)
        self.draw = draw

    async def __call__(self, push: Push, action: str | None) -> None:
        """Message each admin; one blocked or failing chat does not stop the others."""
        text = f"{push.text}\n{action}" if action else push.text
        picture = await self._picture(push)
        for admin_id in self.admin_ids:
            try:
                if picture is None:
                    await self.bot.send_message(admin_id, text)
                else:
                    await self.bot.send_photo(admin_id, picture, caption=text[:CAPTION_LIMIT])
            except TelegramError as exc:
                log.warning("could not mirror a notification to an admin: %s", type(exc).__name__)

    async def _picture(self, push: Push) -> bytes | None:
        """The push's picture, drawn once for every admin; None if it has none or fails."""
        if push.picture is None:
            return None
        try:
            return await self.draw(push.draw)
        except Exception:
            log.exception("the picture of a push could not be drawn; sending the text alone")
            return None
