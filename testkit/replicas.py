"""Several `python -m bot` replicas on one database behind a round-robin HTTP proxy.

The local Bot API stand-in posts webhook updates to the proxy, as Telegram posts to a
deployment's nginx; the proxy hands each request to the next replica in turn. A forward
that fails (a replica killed, or not listening) is answered 502 and not tried elsewhere, so
the stand-in sends the update again later, as Telegram does after a failed delivery.

Used by tests/system/test_replicas.py and `benchmarks/bench_load.py --replicas N`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from testkit.load_driver import TOKEN, BotProcess, TimedTelegram, bot_env, free_port

WEBHOOK_PATH = "/telegram-updates"
# Headers that belong to one hop, not to the request being passed on.
_HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


@dataclass
class Upstream:
    """One replica as the proxy sees it: where it listens and what it was handed."""

    port: int
    handled: int = 0  # updates it answered 2xx
    failed: int = 0  # forwards that failed (refused, reset, 5xx)
    in_flight: int = 0
    messages: set[tuple[int, int]] = field(default_factory=set)  # (chat, message) answered 2xx


class RoundRobinProxy:
    """An HTTP proxy on 127.0.0.1 that passes each POST to the next upstream in turn."""

    def __init__(self, upstream_ports: list[int]) -> None:
        self.upstreams = [Upstream(port) for port in upstream_ports]
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The public webhook URL, as WEBHOOK_URL names it for every replica."""
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def handled_by(self, chat_id: int, message_id: int) -> list[int]:
        """The upstreams (indexes) that answered the update carrying this message 2xx."""
        key = (chat_id, message_id)
        return [i for i, upstream in enumerate(self.upstreams) if key in upstream.messages]

    async def __aenter__(self) -> RoundRobinProxy:
        # No total timeout: a replica answers only once the update is handled.
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=2))
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        upstream = self.upstreams[self._next % len(self.upstreams)]
        self._next += 1
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        url = f"http://127.0.0.1:{upstream.port}{request.rel_url}"
        upstream.in_flight += 1
        try:
            async with self._http.request(
                request.method, url, data=body, headers=headers
            ) as answer:
                payload = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, OSError):
            upstream.failed += 1
            return web.Response(status=502, text="bad gateway")
        finally:
            upstream.in_flight -= 1
        if 200 <= status < 300:
            upstream.handled += 1
            with contextlib.suppress(ValueError, KeyError, TypeError):
                message = json.loads(body)["message"]
                upstream.messages.add((int(message["chat"]["id"]), int(message["message_id"])))
        else:
            upstream.failed += 1
        return web.Response(status=status, body=payload)


@dataclass
class Replicas:
    """The stand-in, the proxy and the replica processes (index i is upstream i)."""

    telegram: TimedTelegram
    proxy: RoundRobinProxy
    bots: list[BotProcess]
    workdirs: list[Path]

    def share(self) -> list[float]:
        """Each replica's share of the updates handled."""
        total = sum(u.handled for u in self.proxy.upstreams) or 1
        return [u.handled / total for u in self.proxy.upstreams]

    def log(self, index: int) -> str:
        return self.bots[index].log.read_text()

    def owner_of(self, index: int) -> str:
        """How the replica names itself in the database (retrain_runs, job_runs)."""
        process = self.bots[index].process
        assert process is not None
        return f"{socket.gethostname()}:{process.pid}"


async def listening(bot: BotProcess, port: int, within: float = 120.0) -> None:
    """Wait until the replica's webhook server accepts connections (its services are open);
    a replica that exits first fails with its last log line."""
    assert bot.process is not None
    async with asyncio.timeout(within):
        while True:
            if bot.process.returncode is not None:
                last = bot.log.read_text().strip().splitlines()[-1:]
                raise RuntimeError(f"a replica exited at start: {' '.join(last)}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def replicas_behind_proxy(
    workdir: Path, model_path: Path, database_url: str, count: int = 2, **extra_env: str
) -> AsyncIterator[Replicas]:
    """`count` replicas in webhook mode, each with its own working and models directory (its
    own machine), sharing `database_url`; stopped with SIGTERM on the way out."""
    ports = [free_port() for _ in range(count)]
    async with TimedTelegram(TOKEN) as telegram, RoundRobinProxy(ports) as proxy:
        bots, workdirs = [], []
        for index, port in enumerate(ports):
            home = workdir / f"replica-{'abcdefgh'[index]}"
            home.mkdir()
            env = bot_env(telegram, home, model_path, DATABASE_URL=database_url)
            env |= {"WEBHOOK_URL": proxy.url, "WEBHOOK_PORT": str(port)} | extra_env
            bots.append(BotProcess(env=env, cwd=home, log=home / "bot.log"))
            workdirs.append(home)
        replicas = Replicas(telegram, proxy, bots, workdirs)
        try:
            await asyncio.gather(*(bot.start() for bot in bots))
            await asyncio.gather(
                *(listening(bot, port) for bot, port in zip(bots, ports, strict=True))
            )
            yield replicas
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots if bot.process is not None))


def setwebhook_calls(telegram: TimedTelegram) -> Counter[tuple[str, str]]:
    """(url, secret_token) of every setWebhook the replicas made, counted."""
    return Counter(
        (str(call.params.get("url")), str(call.params.get("secret_token")))
        for call in telegram.calls_of("setWebhook")
    )
