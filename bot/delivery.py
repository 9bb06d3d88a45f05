"""Confirm Telegram updates only once they are handled, so a crashed bot loses none.

Telegram re-sends every update until a getUpdates call asks for a later offset. The stock
python-telegram-bot poller asks for the next offset as soon as it has *queued* updates, so a
bot killed with photos queued or in hand never sees them again. Here getUpdates always asks
from the oldest update still being handled: after a crash Telegram re-sends the unfinished
ones, and the database's (chat, message) uniqueness makes sure each photo is answered once.

While updates are in hand Telegram answers at once (it has the unconfirmed ones), so updates
already taken are dropped from the answer before python-telegram-bot parses them, and the
poll is repeated after a short pause instead of long-polling. No poll goes out while
`max_in_hand` updates are in hand: a bot that falls behind leaves the rest waiting at
Telegram instead of re-reading a hundred unconfirmed updates twenty times a second.

A webhook is confirmed by its HTTP answer: python-telegram-bot's webhook server answers 200
once its `update_queue.put` returns, so in webhook mode the queue is a `HandledQueue` whose
`put` returns only when the update is handled. A bot killed mid-photo leaves the request
unanswered, and Telegram delivers the update again. A clean stop must not look like that:
python-telegram-bot's webhook server closes its open connections when it stops, cutting the
requests still in hand, which the bot then answers anyway. Telegram would deliver those
again (to another replica, which replies a second time: only photos are deduplicated by the
database), so `DrainingUpdater` first refuses new deliveries with 503 (Telegram retries
them) and waits for the requests in hand to be answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import ExtBot, SimpleUpdateProcessor, Updater
from tornado.web import HTTPError

log = logging.getLogger(__name__)

DRAIN_WITHIN = 60.0  # seconds a stopping webhook waits for its requests in hand (systemd: 90)
REPOLL_PAUSE = 0.05  # seconds between polls while only updates in hand are unconfirmed
TELEGRAM_MAX_LIMIT = 100  # getUpdates returns at most this many


class UpdateLedger:
    """The ids of updates fetched from Telegram and not yet fully handled."""

    def __init__(self, max_in_hand: int = TELEGRAM_MAX_LIMIT) -> None:
        self.max_in_hand = max_in_hand
        self._in_hand: set[int] = set()
        self._finished: dict[int, asyncio.Future[None]] = {}
        self._room = asyncio.Event()
        self._room.set()
        self.next_offset: int | None = None

    def offset(self, requested: int) -> int:
        """The offset to ask for: the oldest update in hand, else what the poller asked."""
        return min(self._in_hand, default=requested)

    def took(self, update_ids: list[int]) -> None:
        """Updates handed to the application; unconfirmed until `finished`."""
        self._in_hand.update(update_ids)
        if update_ids:
            self.next_offset = max(update_ids) + 1
        if len(self._in_hand) >= self.max_in_hand:
            self._room.clear()

    def finished(self, update_id: int) -> None:
        """The update's handlers (and the error handler) are done with it."""
        self._in_hand.discard(update_id)
        if len(self._in_hand) < self.max_in_hand:
            self._room.set()
        waiter = self._finished.pop(update_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def when_finished(self, update_id: int) -> asyncio.Future[None]:
        """A future that the next `finished(update_id)` resolves."""
        waiter = self._finished.get(update_id)
        if waiter is None:
            waiter = self._finished[update_id] = asyncio.get_running_loop().create_future()
        return waiter

    async def wait_for_room(self) -> None:
        """Return once fewer than `max_in_hand` updates are in hand."""
        await self._room.wait()

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)


class LedgerBot(ExtBot[None]):
    """`ExtBot` whose getUpdates confirms only what the ledger says is finished."""

    def __init__(self, ledger: UpdateLedger, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ledger = ledger

    @property
    def ledger(self) -> UpdateLedger:
        return self._ledger

    async def initialize(self) -> None:
        """Open the connections and check the token; on failure (a rejected token, the API
        unreachable) close them again: the application shuts down only what initialized."""
        try:
            await super().initialize()
        except Exception:
            await self.shutdown()
            raise

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """getUpdates from the ledger's offset, returning only updates never taken before.

        Filtering the raw JSON (not parsed `Update`s) keeps the repeated polls cheap.
        """
        if endpoint != "getUpdates" or data is None:
            return await super()._post(endpoint, data, **kwargs)
        requested = int(data.get("offset") or 0)
        while True:
            await self._ledger.wait_for_room()
            asked = data | {"offset": self._ledger.offset(requested)}
            answer = await super()._post(endpoint, asked, **kwargs)
            new = [update for update in answer if update["update_id"] >= requested]
            if new or not answer:
                self._ledger.took([update["update_id"] for update in new])
                return new
            await asyncio.sleep(REPOLL_PAUSE)


class HandledQueue(asyncio.Queue[object]):
    """The update queue of a webhook bot: `put` returns once the update is handled.

    A request Telegram sends twice while the first is still in hand waits for the first.
    Once `drain` has begun, deliveries are refused with 503, which Telegram retries.
    """

    def __init__(self, ledger: UpdateLedger) -> None:
        super().__init__()
        self._ledger = ledger
        self._waiting = 0  # requests whose put has not returned: their answers are not sent
        self._idle = asyncio.Event()
        self._idle.set()
        self._refusing = False

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):
            await super().put(item)  # python-telegram-bot's own stop signal
            return
        if self._refusing:
            raise HTTPError(503, reason="Stopping")
        finished = self._ledger.when_finished(item.update_id)
        self._waiting += 1
        self._idle.clear()
        try:
            await super().put(item)
            # Shielded: a dropped connection must not cancel the wait of a second delivery.
            await asyncio.shield(finished)
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._idle.set()

    async def drain(self, within: float) -> bool:
        """Refuse new deliveries, then wait until every request in hand is answered.

        False if some were still in hand after `within` seconds.
        """
        self._refusing = True
        # A handler writes its 200 in the same step as its put returns, before this wakes.
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


class DrainingUpdater(Updater):
    """An `Updater` whose webhook, on stop, answers the requests in hand before closing."""

    def __init__(self, bot: ExtBot[None], update_queue: HandledQueue) -> None:
        super().__init__(bot, update_queue)
        self._handled_queue = update_queue

    async def stop(self) -> None:
        if self.running and not await self._handled_queue.drain(DRAIN_WITHIN):
            log.warning(
                "stopping with webhook requests still in hand after %.0f s; Telegram will "
                "deliver them again",
                DRAIN_WITHIN,
            )
        await super().stop()


class LedgerProcessor(SimpleUpdateProcessor):
    """Runs updates concurrently, as python-telegram-bot does, and tells the ledger when done."""

    def __init__(self, ledger: UpdateLedger, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._ledger = ledger

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        try:
            await coroutine
        finally:
            if isinstance(update, Update):
                self._ledger.finished(update.update_id)


async def confirm_handled(bot: LedgerBot) -> None:
    """At a clean stop, after the last update was handled: confirm them all to Telegram."""
    ledger = bot.ledger
    if ledger.next_offset is None or ledger.in_hand:
        return
    await bot.get_updates(offset=ledger.next_offset, timeout=0)
    log.debug("confirmed updates up to %d", ledger.next_offset - 1)
