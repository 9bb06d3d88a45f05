"""The Bot API requests over aiohttp, against a local HTTP server: what python-telegram-bot
sends arrives as it would through httpx, and failures are python-telegram-bot's errors."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from PIL import Image
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.aiohttp_request import AiohttpRequest
from testkit.load_driver import free_port
from testkit.local_http import serving

TOKEN = "123:ABC"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), 255).save(buffer, format="JPEG")
    return buffer.getvalue()


PHOTO = _jpeg()


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A Bot API stand-in that records each request's form; it answers a call for the chat
    "slow" after 2 s."""
    received: list[dict[str, object]] = []

    async def method(request: web.Request) -> web.Response:
        form = await request.post()
        fields: dict[str, object] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                fields[name] = (value.filename, value.content_type, value.file.read())
            else:
                fields[name] = value
        received.append({"method": request.match_info["method"], "host": request.host, **fields})
        if fields.get("chat_id") == "slow":
            await asyncio.sleep(2)
        if request.match_info["method"] == "getMe":
            result: dict[str, object] = {"id": 1, "is_bot": True, "first_name": "digits"}
        else:
            result = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}}
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    async with serving(app) as root:
        yield f"{root}/bot", received


async def test_a_bot_s_calls_arrive_with_their_parameters_and_files(
    api: tuple[str, list[dict[str, object]]],
) -> None:
    base_url, received = api
    async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest(4)) as bot:
        sent = await bot.send_photo(
            chat_id=42, photo=PHOTO, caption="cluster 3", filename="reply.jpg"
        )

    assert sent.message_id == 7
    get_me, send_photo = received
    assert get_me["method"] == "getMe"
    assert send_photo["method"] == "sendPhoto"
    assert send_photo["chat_id"] == "42"
    assert send_photo["caption"] == "cluster 3"
    filename, content_type, content = send_photo["photo"]  # type: ignore[misc]
    assert (filename, content_type, content) == ("reply.jpg", "image/jpeg", PHOTO)


async def test_a_request_past_its_timeouts_is_timed_out(
    api: tuple[str, list[dict[str, object]]],
) -> None:
    base_url, _ = api
    async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest()) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(chat_id="slow", text="3", read_timeout=0.2)
        # An upload is bounded as a whole: the time to write it, then to read the answer.
        with pytest.raises(TimedOut):
            await bot.send_photo(chat_id="slow", photo=PHOTO, read_timeout=0.2, write_timeout=0.2)


async def test_requests_go_through_the_proxy_the_environment_names(
    api: tuple[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY names the stand-in: a call to a host that does not resolve reaches it, as
    a proxy's client sends it (the Bot API's host in the request)."""
    base_url, received = api
    monkeypatch.setenv("HTTP_PROXY", base_url.removesuffix("/bot"))
    async with Bot(
        TOKEN, base_url="http://api.telegram.invalid/bot", request=AiohttpRequest()
    ) as bot:
        await bot.send_message(chat_id=42, text="3")

    assert [(r["method"], r["host"]) for r in received] == [
        ("getMe", "api.telegram.invalid"),
        ("sendMessage", "api.telegram.invalid"),
    ]


async def test_no_proxy_bypasses_the_proxy(
    api: tuple[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, received = api
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest()) as bot:
        await bot.send_message(chat_id=42, text="3")

    assert [r["method"] for r in received] == ["getMe", "sendMessage"]


async def test_an_unreachable_api_is_a_network_error() -> None:
    port = free_port()
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
            await request.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()


async def test_requests_need_initialize_and_stop_at_shutdown(
    api: tuple[str, list[dict[str, object]]],
) -> None:
    base_url, received = api
    url = f"{base_url}{TOKEN}/getMe"
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.initialize()
    status, body = await request.do_request(url, "POST")
    assert status == 200
    assert json.loads(body)["result"]["first_name"] == "digits"
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.initialize()  # python-telegram-bot may initialize a request again
    assert (await request.do_request(url, "POST"))[0] == 200
    await request.shutdown()
    assert len(received) == 2
