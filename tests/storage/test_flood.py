"""The flood limit's counts on SQLite and PostgreSQL: windows, replicas, erasure, round trips."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import make_url

from bot.storage import Storage, open_storage
from bot.storage.store import COUNTER_WORKERS
from testkit.postgres_schema import fresh_schema, schema_url

USER, OTHER = 42, 43


async def test_a_window_counts_each_update_and_the_next_window_starts_again(
    storage: Storage,
) -> None:
    first = await storage.count_update(USER, 0.5)
    counts = [(await storage.count_update(USER, 0.5)).updates for _ in range(3)]
    other = await storage.count_update(OTHER, 0.5)
    await asyncio.sleep(0.6)
    after = await storage.count_update(USER, 0.5)

    assert first.updates == 1
    assert datetime.now(UTC) < first.ends_at + timedelta(seconds=0.2)
    assert counts == [2, 3, 4]
    assert other.updates == 1
    assert after.updates == 1
    assert after.ends_at > first.ends_at + timedelta(seconds=0.5)


async def test_two_replicas_counting_at_once_never_lose_or_share_a_count(
    database_url: str,
) -> None:
    first, second = await open_storage(database_url), await open_storage(database_url)
    try:
        windows = await asyncio.gather(
            *(store.count_update(USER, 60.0) for _ in range(30) for store in (first, second))
        )
    finally:
        await first.close()
        await second.close()

    assert sorted(window.updates for window in windows) == list(range(1, 61))
    assert len({window.ends_at for window in windows}) == 1


async def test_forget_erases_the_count_and_ended_windows_are_dropped(storage: Storage) -> None:
    for _ in range(3):
        await storage.count_update(USER, 60.0)
    await storage.count_update(OTHER, 0.1)
    await asyncio.sleep(0.2)

    await storage.forget_user(USER)
    dropped = await storage.drop_ended_windows()

    assert (await storage.count_update(USER, 60.0)).updates == 1
    assert dropped == 1
    assert (await storage.count_update(OTHER, 60.0)).updates == 1


class CountingProxy:
    """Forwards to PostgreSQL and counts what the client sends: one write per round trip."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.client_writes = 0
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            for writer in self._writers:
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.connections += 1
        self._writers += [writer, upstream_writer]

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool):
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    self.client_writes += count
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(
            copy(reader, upstream_writer, True), copy(upstream_reader, writer, False)
        )


@pytest.mark.postgres
async def test_counting_an_update_is_one_round_trip_to_postgresql(postgres_url: str) -> None:
    url = make_url(postgres_url)
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    async with proxy.running() as port:
        proxied = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        with fresh_schema(postgres_url) as schema:
            storage = await open_storage(schema_url(proxied, schema))
            try:
                # Both of the counter's connections open, and the statement prepared on each
                # (psycopg prepares a statement on its fifth run): neither is a count's cost.
                for _ in range(4):
                    await asyncio.gather(*(storage.count_update(USER, 60.0) for _ in range(16)))
                await asyncio.sleep(0.1)
                opened, before = proxy.connections, proxy.client_writes
                for _ in range(10):
                    await storage.count_update(USER, 60.0)
                await asyncio.sleep(0.1)
                writes = proxy.client_writes - before
            finally:
                await storage.close()

    assert opened == proxy.connections == 1 + COUNTER_WORKERS  # the migration's, the counter's
    assert writes == 10
