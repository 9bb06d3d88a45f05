"""python-telegram-bot's Bot API requests made with aiohttp instead of httpx.

Every photo costs the bot several Bot API requests (getFile, the download, sendPhoto, its
share of getUpdates), and the bot's own process sets its pace. httpx is pure Python down to
its HTTP parser; aiohttp's is compiled, and spends a fraction of the CPU on each request
(docs/benchmarks.md). python-telegram-bot takes any `BaseRequest`; this one keeps
`HTTPXRequest`'s timeouts and its errors (`TimedOut`, `NetworkError`), so retries and the
error handler see what they saw before, and it goes through the proxy the environment names
(HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as httpx did: where Telegram is blocked, bots run behind
one.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

CONNECT_TIMEOUT = 5.0  # seconds; HTTPXRequest's defaults
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0  # an upload's
POOL_TIMEOUT = 1.0  # waiting for a free connection


class AiohttpRequest(BaseRequest):
    """A pool of `connections` keep-alive connections to the Bot API, opened in `initialize`
    (inside the running event loop, as aiohttp asks)."""

    __slots__ = ("_connections", "_proxies", "_session")

    def __init__(self, connections: int = 1) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float:
        """See `BaseRequest.read_timeout`."""
        return READ_TIMEOUT

    async def initialize(self) -> None:
        """See `BaseRequest.initialize`."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies.clear()  # the environment is read again

    async def shutdown(self) -> None:
        """See `BaseRequest.shutdown`."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        write_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`.

        aiohttp has no write timeout: an upload is bounded as a whole, by the time to write
        it and then to read the answer."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data.multipart_data if request_data else None
        read = _given(read_timeout, READ_TIMEOUT)
        connect = _given(connect_timeout, CONNECT_TIMEOUT)
        pool = _given(pool_timeout, POOL_TIMEOUT)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else WRITE_TIMEOUT)
        timeout = aiohttp.ClientTimeout(
            total=None if not uploads or write is None or read is None else write + read,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        form = None
        if request_data:
            form = aiohttp.FormData(request_data.json_parameters)
            for field, (filename, content, mime_type) in (uploads or {}).items():
                form.add_field(field, content, filename=filename, content_type=mime_type)
        try:
            async with self._session.request(
                method,
                url,
                data=form,
                timeout=timeout,
                proxy=self._proxy_for(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # The class name says what failed where the message is empty.
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for `url`'s scheme and host, or None; read once per
        host (aiohttp's own `trust_env` reads it, and ~/.netrc, in a thread on every request)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = not parts.hostname or proxy_bypass(parts.hostname)
            self._proxies[key] = None if bypass else getproxies().get(parts.scheme)
        return self._proxies[key]


def _given(timeout: float | object | None, default: float) -> float | None:
    """A timeout the caller gave (None: no limit), else the default."""
    if timeout is BaseRequest.DEFAULT_NONE:
        return default
    return cast(float | None, timeout)
