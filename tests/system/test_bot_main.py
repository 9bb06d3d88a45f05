"""`python -m bot` as a user runs it: configuration errors, a real session, SIGTERM, clean logs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from bot import texts
from model.mnist import Mnist
from testkit.bot_harness import TOKEN, photo_of
from testkit.fake_telegram import FakeTelegram
from testkit.load_driver import free_port

USER = 1101


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    """A clean environment: nothing inherited that the bot reads, except what is given."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "SYSTEMROOT"}}
    return keep | {"PYTHONUNBUFFERED": "1"} | values


@contextlib.asynccontextmanager
async def _bot_process(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Process]:
    """`python -m bot` in `tmp_path`; killed on the way out if the test did not stop it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _run_main(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    async with _bot_process(tmp_path, env) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def _post_once_listening(
    http: aiohttp.ClientSession, url: str, body: dict
) -> aiohttp.ClientResponse:
    """POST as soon as the server accepts connections (it may open just after setWebhook)."""
    async with asyncio.timeout(30):
        while True:
            try:
                return await http.post(url, json=body)
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": " "}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "12345"}, "TELEGRAM_BOT_TOKEN is malformed"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "RETRAIN_CRON": "every sunday"}, "RETRAIN_CRON"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "me"}, "ADMIN_IDS is invalid"),
    ],
)
async def test_bad_configuration_is_one_line_and_exit_code_2(
    tmp_path: Path, values: dict[str, str], expected: str
) -> None:
    code, stderr = await _run_main(tmp_path, _env(tmp_path, **values))

    assert code == 2
    assert stderr.count("\n") == 1
    assert expected in stderr
    assert "Traceback" not in stderr
    if "TOKEN" in expected:
        assert "@BotFather" in stderr
    if "not set" in expected:
        assert f"{tmp_path / '.env'} (TELEGRAM_BOT_TOKEN=" in stderr


async def test_a_rejected_token_or_unreachable_api_ends_with_one_clear_line(
    tmp_path: Path, model_path: Path
) -> None:
    async with FakeTelegram("999999:" + "B" * 35) as tg:
        values = {"TELEGRAM_BOT_TOKEN": TOKEN, "MODEL_PATH": str(model_path)}
        rejected = await _run_main(
            tmp_path, _env(tmp_path, **values, TELEGRAM_API_BASE_URL=tg.base_url)
        )
        closed_port = tg.base_url
    unreachable = await _run_main(
        tmp_path, _env(tmp_path, **values, TELEGRAM_API_BASE_URL=closed_port)
    )

    assert rejected[0] == 1
    assert rejected[1].splitlines()[-1].startswith("digit-cluster-bot: Telegram rejected")
    assert rejected[1].endswith(
        "Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather (/mybots, API Token).\n"
    )
    assert unreachable[0] == 1
    last_line = unreachable[1].splitlines()[-1]
    assert last_line.startswith(f"digit-cluster-bot: cannot reach the Bot API at {closed_port} (")
    assert TOKEN not in rejected[1] + unreachable[1]


async def test_a_session_then_sigterm_finishes_the_photo_in_hand_and_never_logs_the_token(
    tmp_path: Path, model_path: Path, mnist_dir: Path, mnist: Mnist
) -> None:
    digit: np.ndarray = mnist.test_images[0]
    async with FakeTelegram(TOKEN) as tg:
        env = _env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=tg.base_url,
            MODEL_PATH=str(model_path),
            MNIST_DIR=str(mnist_dir),
            DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            LOG_LEVEL="DEBUG",
        )
        async with _bot_process(tmp_path, env) as process:
            await tg.wait_for_calls("getUpdates", 1, within=60)
            tg.send_text(USER, USER, "/start")
            [welcome] = await tg.wait_for_replies(USER, 1, within=30)
            tg.send_document_from_user(
                USER,
                USER,
                photo_of(digit, size=3000, fmt="PNG"),
                file_name="scan.png",
                mime_type="image/png",
            )
            await tg.wait_for_calls("getFile", 1)
            process.send_signal(signal.SIGTERM)
            _, stderr_bytes = await asyncio.wait_for(process.communicate(), 60)

    stderr = stderr_bytes.decode()
    assert welcome["text"] == texts.help_text("en")
    assert process.returncode == 0
    assert "photo" in tg.sent[USER][1]
    assert "bot ready" in stderr
    assert "getUpdates" in stderr
    assert TOKEN not in stderr
    assert TOKEN.split(":")[1] not in stderr


async def test_webhook_mode_accepts_only_telegram_signed_updates(
    tmp_path: Path, model_path: Path
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram-updates"
    update = {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": USER, "type": "private"},
            "from": {"id": USER, "is_bot": False, "first_name": "u"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    async with FakeTelegram(TOKEN) as tg:
        env = _env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=tg.base_url,
            MODEL_PATH=str(model_path),
            DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            WEBHOOK_URL=hook,
            WEBHOOK_PORT=str(port),
        )
        async with _bot_process(tmp_path, env) as process:
            [registered] = await tg.wait_for_calls("setWebhook", 1, within=60)
            secret = registered.params["secret_token"]
            async with aiohttp.ClientSession() as http:
                forged = await _post_once_listening(http, hook, update)
                signed = await http.post(
                    hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                )
                replied_before_the_answer = len(tg.sent.get(USER, []))
            [reply] = await tg.wait_for_replies(USER, 1)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 60)

    assert registered.params["url"] == hook
    assert TOKEN not in secret
    assert forged.status == 403
    assert signed.status == 200
    assert replied_before_the_answer == 1  # confirmed to Telegram only once handled
    assert reply["text"] == texts.help_text("en")
    assert len(tg.sent[USER]) == 1
    assert not tg.calls_of("getUpdates")
    assert process.returncode == 0
