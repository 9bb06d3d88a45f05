"""The database unavailable while photos arrive: answered anyway, stored or honestly not, and
the bot recovers by itself; the flood limit, counted in the database, lets everything through
meanwhile.

SQLite: another process's connection holds an exclusive lock for 10 s. PostgreSQL: the shared
server is never stopped; the bot reaches it through a local TCP proxy that the test cuts and
restores.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import make_url

from bot import texts
from bot.flood import COUNT_BUDGET
from testkit.bot_harness import RunningBot, photo_of, running_bot
from testkit.postgres_schema import fresh_schema, schema_url

USER = 4401
LOCK_SECONDS = 10


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; `cut()` drops every connection and refuses new
    ones, `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))


async def _photo_reply(bot: RunningBot, digit: np.ndarray) -> tuple[int, dict]:
    count = len(bot.telegram.sent.get(USER, []))
    message_id = bot.telegram.send_photo_from_user(USER, USER, photo_of(digit))
    reply = (await bot.telegram.wait_for_replies(USER, count + 1, within=60))[-1]
    await bot.settle()
    return message_id, reply


@pytest.mark.slow
async def test_photos_wait_out_a_sqlite_file_locked_by_another_writer(
    tmp_path: Path, model_path: Path, digits: np.ndarray
) -> None:
    async with running_bot(tmp_path, model_path) as bot:
        locker = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        sent = [bot.telegram.send_photo_from_user(USER, USER, photo_of(d)) for d in digits[:4]]
        await asyncio.sleep(LOCK_SECONDS)
        replies_while_locked = len(bot.telegram.sent.get(USER, []))
        locker.execute("ROLLBACK")
        locker.close()
        replies = await bot.telegram.wait_for_replies(USER, len(sent), within=60)
        await bot.settle()
        stored = [await bot.storage.find_image(USER, message_id) for message_id in sent]

    assert replies_while_locked == 0
    assert len(replies) == len(sent)
    assert all(reply["caption"].startswith("This looks like cluster") for reply in replies)
    assert all(image is not None and image.answered_at is not None for image in stored)


@contextlib.asynccontextmanager
async def _schema_behind_proxy(postgres_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A fresh schema on the shared server, and a URL reaching it through a proxy."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    with fresh_schema(postgres_url) as schema:
        try:
            yield proxy, schema_url(proxied, schema)
        finally:
            with contextlib.suppress(Exception):
                await proxy.cut()


@pytest.mark.postgres
async def test_postgres_cut_off_photos_answered_honestly_then_stored_again_once_back(
    tmp_path: Path, model_path: Path, postgres_url: str, digits: np.ndarray
) -> None:
    async with (
        _schema_behind_proxy(postgres_url) as (proxy, database_url),
        running_bot(tmp_path, model_path, database_url=database_url) as bot,
    ):
        before, first = await _photo_reply(bot, digits[0])
        await proxy.cut()
        during, cut_off = await _photo_reply(bot, digits[1])
        await proxy.restore()
        after, back = await _photo_reply(bot, digits[2])
        stored = {
            message_id: await bot.storage.find_image(USER, message_id)
            for message_id in (before, during, after)
        }

    assert "reply_markup" in first
    assert cut_off["caption"].startswith("This looks like cluster")
    assert cut_off["caption"].endswith(texts.NOT_KEPT)
    assert "reply_markup" not in cut_off
    assert back["caption"].startswith("This looks like cluster")
    assert texts.NOT_KEPT not in back["caption"]
    assert stored[before] is not None
    assert stored[during] is None
    assert stored[after] is not None
    assert stored[after].answered_at is not None


@pytest.mark.postgres
async def test_postgres_cut_off_the_flood_limit_lets_every_text_through_and_says_so_once(
    tmp_path: Path, model_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        _schema_behind_proxy(postgres_url) as (proxy, database_url),
        running_bot(tmp_path, model_path, database_url=database_url, rate_limit="2/minute") as bot,
    ):
        await proxy.cut()
        for n in range(4):
            bot.telegram.send_text(USER, USER, f"hello {n}")
        replies = await bot.telegram.wait_for_replies(USER, 4, within=30)
        await bot.settle()

    assert [reply["text"] for reply in replies] == [texts.NOT_AN_IMAGE] * 4
    off = [r for r in caplog.records if r.message.startswith("flood limit off until")]
    assert len(off) == 1
    assert "unavailable" in off[0].message


async def test_a_sqlite_file_locked_by_another_writer_delays_a_text_by_the_count_budget_only(
    tmp_path: Path, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path, model_path) as bot:
        locker = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            sent_at = time.monotonic()
            bot.telegram.send_text(USER, USER, "hello")
            [reply] = await bot.telegram.wait_for_replies(USER, 1, within=LOCK_SECONDS)
            answered_in = time.monotonic() - sent_at
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await bot.settle()

    assert reply["text"] == texts.NOT_AN_IMAGE
    assert COUNT_BUDGET <= answered_in < COUNT_BUDGET + 2
    assert any(
        r.message.startswith("flood limit off until") and "longer than" in r.message
        for r in caplog.records
    )
