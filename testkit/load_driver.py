"""Drive `python -m bot` in its own process with many simulated users through FakeTelegram.

Used by benchmarks/bench_load.py (figures) and the fault tests (exactly-once checks). Every
message a user sends gets exactly one reply from the bot, which quotes it, so each reply is
matched to the message it answers; the database is then compared with the pictures the bot
accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import signal
import socket
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import create_engine, select

from bot.storage.schema import images
from testkit import ROOT, bad_inputs
from testkit.fake_telegram import FakeTelegram

TOKEN = "123456789:AAHloadTESTtokenTHATisLONGenough_99"


class TimedTelegram(FakeTelegram):
    """FakeTelegram that also notes when each message to a chat was sent by the bot, which
    (chat, message) pairs have a reply quoting them, and how many messages it refused (a chat
    sent more than about one a second gets 429, as from Telegram)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.reply_times: dict[int, list[float]] = defaultdict(list)
        self.answered: set[tuple[int, int]] = set()
        self.refused = 0

    def _record_sent(self, params: dict[str, Any], content: dict[str, Any]) -> Any:
        chat = int(params["chat_id"])
        sent_before = len(self.sent.get(chat, []))
        response = super()._record_sent(params, content)
        if len(self.sent.get(chat, [])) == sent_before:
            self.refused += 1
            return response
        self.reply_times[chat].append(time.perf_counter())
        quoted = self.sent[chat][-1].get("reply_to_message_id")
        if quoted is not None:
            self.answered.add((chat, int(quoted)))
        return response


@dataclass
class Sent:
    """One message a simulated user sent: its kind, when, and whether it carried a picture."""

    chat: int
    message_id: int
    kind: str
    at: float
    picture: bool


@dataclass
class Message:
    """A message to send: `kind` names it in reports, `picture` when the bot should keep it."""

    kind: str
    picture: bool
    send: Callable[[FakeTelegram, int], int]


def _jpeg(digit: np.ndarray, size: int, quality: int) -> bytes:
    """A phone-like photo: the digit on paper with a gradient of light, JPEG-compressed."""
    paper = Image.fromarray(255 - digit).resize((size, size * 3 // 4), Image.Resampling.BILINEAR)
    light = np.linspace(0.85, 1.0, paper.width, dtype=np.float32)[np.newaxis, :]
    lit = (np.asarray(paper, dtype=np.float32) * light).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(lit).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def message_mix(digits: np.ndarray, seed: int = 0) -> Callable[[], Message]:
    """A source of messages: 80% photos (1280 px), 10% PNG/JPEG files, 5% commands, 5% bad.

    Pictures come from a pool made once, so generating the load costs little CPU.
    """
    rng = random.Random(seed)
    photos = [_jpeg(d, 1280, 85) for d in digits[:40]]
    files = [_jpeg(d, 2000, 92) for d in digits[40:50]]
    files += [bad_inputs.transparent_png(d) for d in digits[50:55]]
    bad = [bad_inputs.truncated_jpeg(digits[0]), bad_inputs.pdf(), bad_inputs.one_pixel_png()]
    commands = ["/help", "/stats", "/model", "/cluster 3", "/cluster abc"]

    def photo(data: bytes) -> Callable[[FakeTelegram, int], int]:
        return lambda tg, user: tg.send_photo_from_user(user, user, data, width=1280, height=960)

    def document(data: bytes, mime: str) -> Callable[[FakeTelegram, int], int]:
        name = "scan." + mime.rsplit("/", 1)[-1]
        return lambda tg, user: tg.send_document_from_user(
            user, user, data, file_name=name, mime_type=mime
        )

    def text(words: str) -> Callable[[FakeTelegram, int], int]:
        return lambda tg, user: tg.send_text(user, user, words)

    def next_message() -> Message:
        roll = rng.random()
        if roll < 0.80:
            return Message("photo", True, photo(rng.choice(photos)))
        if roll < 0.90:
            data = rng.choice(files)
            mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            return Message("file", True, document(data, mime))
        if roll < 0.95:
            return Message("command", False, text(rng.choice(commands)))
        data = rng.choice(bad)
        if data.startswith(b"%PDF"):
            return Message("bad", False, document(data, "application/pdf"))
        return Message("bad", False, document(data, "image/jpeg"))

    return next_message


@dataclass
class BotProcess:
    """`python -m bot` against the fake server; `peak_rss` is the kernel's high-water mark."""

    env: dict[str, str]
    cwd: Path
    log: Path
    process: asyncio.subprocess.Process | None = None
    peak_rss: int = 0
    starts: int = 0
    cpu_of_killed: tuple[float, float] = (0.0, 0.0)

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=self.cwd, env=self.env, stderr=log, stdout=log
            )

    async def ready(self, telegram: FakeTelegram) -> None:
        """Wait for the bot's first getUpdates or setWebhook; a bot that exits first fails with its
        last log line."""
        assert self.process is not None
        polling = asyncio.ensure_future(
            telegram.wait_until(
                lambda: any(c.method in {"getUpdates", "setWebhook"} for c in telegram.calls[-50:]),
                within=120,
            )
        )
        exited = asyncio.ensure_future(self.process.wait())
        await asyncio.wait({polling, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not polling.done():
            polling.cancel()
            last = self.log.read_text().strip().splitlines()[-1:]
            raise RuntimeError(f"the bot exited at start: {' '.join(last)}")
        polling.result()

    def sample_rss(self) -> None:
        """Sum VmHWM (peak resident set) over the bot and its worker processes, from /proc.

        Adding each process's own peak bounds the tree's peak from above.
        """
        if self.process is None or self.process.returncode is not None:
            return
        total = sum(peak_rss_of(pid) for pid in _process_tree(self.process.pid))
        self.peak_rss = max(self.peak_rss, total)

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time (user + system) of the bot process and of its workers, across restarts."""
        if self.process is None or self.process.returncode is not None:
            return self.cpu_of_killed
        main, workers = 0.0, 0.0
        for pid in _process_tree(self.process.pid):
            if pid == self.process.pid:
                main += _cpu_seconds(pid)
            else:
                workers += _cpu_seconds(pid)
        return self.cpu_of_killed[0] + main, self.cpu_of_killed[1] + workers

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer."""
        assert self.process is not None
        self.sample_rss()
        self.cpu_of_killed = self.cpu_seconds()
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.sample_rss()
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 60)
            if self.process.returncode is None:
                self.process.kill()
        return await self.process.wait()


def peak_rss_of(pid: int) -> int:
    """One process's peak resident set (VmHWM) in bytes, from /proc (0 once it has gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of_command(name: str) -> float:
    """CPU seconds of every live process whose command is `name` (a database server's)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().split(" (", 1)[1].startswith(f"{name})"):
                total += _cpu_seconds(int(stat.parent.name))
    return total


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants, read from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            children[int(stat.read_text().rsplit(")", 1)[1].split()[1])].append(
                int(stat.parent.name)
            )
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def bot_env(
    telegram: FakeTelegram, workdir: Path, model_path: Path, **extra: str
) -> dict[str, str]:
    """The bot's whole environment: nothing inherited that it reads, a DB file in `workdir`."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return (
        keep
        | {
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "MODEL_PATH": str(model_path),
            "MODELS_DIR": str(workdir / "models"),
            "DATABASE_URL": f"sqlite:///{workdir / 'bot.sqlite3'}",
            # A load is many messages from few users: neither flood limit nor daily quota.
            "RATE_LIMIT": "10000/minute",
            "USER_DAILY_PHOTOS": "0",
            "USER_DAILY_MB": "0",
            # The stand-in has no Bot API rate limit; measure the bot, not Telegram's 30/s.
            "TELEGRAM_MAX_RATE": "1000",
            "LOG_LEVEL": "WARNING",
            "NOTIFY_RUN_ENDPOINT": "",
        }
        | extra
    )


@dataclass
class LoadResult:
    """What happened: every message sent, and the bot's replies per chat."""

    sent: list[Sent] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    def per_chat(self) -> dict[int, list[Sent]]:
        chats: dict[int, list[Sent]] = defaultdict(list)
        for message in self.sent:
            chats[message.chat].append(message)
        return chats


class LoadRun:
    """Users sending a mix of messages to the bot; open loop (fixed rate) or closed loop."""

    def __init__(self, telegram: TimedTelegram, users: int, mix: Callable[[], Message]) -> None:
        self.telegram = telegram
        self.users = [10_000 + i for i in range(users)]
        self.mix = mix
        self.result = LoadResult()
        self._sent_by: dict[int, int] = defaultdict(int)

    def _send(self, user: int) -> None:
        message = self.mix()
        message_id = message.send(self.telegram, user)
        self._sent_by[user] += 1
        self.result.sent.append(
            Sent(user, message_id, message.kind, time.perf_counter(), message.picture)
        )

    async def at_rate(self, messages: int, rate: float, on_tick: Callable[[int], Any]) -> None:
        """Open loop: message i is sent at i / rate seconds, whatever the bot is doing."""
        self.result.started = start = time.perf_counter()
        for i in range(messages):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(self.users[i % len(self.users)])
            await on_tick(i)

    async def flat_out(self, messages: int, on_tick: Callable[[int], Any]) -> None:
        """Closed loop: each user sends its next message as soon as the last one is answered."""
        self.result.started = time.perf_counter()
        remaining = messages

        async def user_loop(user: int) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                self._send(user)
                await on_tick(messages - remaining)
                await self.answered(user, within=120)

        await asyncio.gather(*(user_loop(user) for user in self.users))

    async def answered(self, user: int, within: float) -> None:
        """Wait until the user has as many replies as messages sent."""
        sent = self._sent_by[user]
        await self.telegram.wait_until(
            lambda: len(self.telegram.sent.get(user, [])) >= sent, within=within
        )

    async def drain(self, within: float = 120.0) -> None:
        """Wait until every message has a reply quoting it (at most `within` seconds: `check`
        names the unanswered), then a moment for any duplicate to show."""
        with contextlib.suppress(TimeoutError):
            await self.telegram.wait_until(
                lambda: len(self.telegram.answered) >= len(self.result.sent), within=within
            )
        self.result.finished = max(
            (times[-1] for times in self.telegram.reply_times.values()), default=0.0
        )
        await asyncio.sleep(1.0)


@dataclass
class Checks:
    """The exactly-once and database checks, with the figures the benchmark prints.

    `reply_times` holds, per (chat, message), when each reply quoting it was sent; `stray` are
    replies in the users' chats that quote none of their messages.
    """

    messages: int
    unanswered: list[Sent]
    answered_twice: list[Sent]
    stray: list[dict[str, Any]]
    reply_times: dict[tuple[int, int], list[float]]
    pictures_replied: int
    pictures_sent: int
    stored: int
    stored_not_accepted: set[tuple[int, int]]
    accepted_not_stored: set[tuple[int, int]]
    latencies: list[float]

    @property
    def ok(self) -> bool:
        return not self.answered_twice and self.ok_but_repeats

    @property
    def ok_but_repeats(self) -> bool:
        """Every message answered, nothing stray, the database exactly what was accepted."""
        return not (
            self.unanswered or self.stray or self.stored_not_accepted or self.accepted_not_stored
        )

    def ok_across(self, killed_at: float, in_hand: int) -> bool:
        """`ok` for a run with a kill -9 at `killed_at` (perf_counter): the replies in flight
        may go out again, at most `in_hand` of them, each once before the kill and once after.

        Whether the last request of a killed process reached Telegram cannot be known, so
        those repeats are the least any system can promise.
        """
        repeats_in_flight = len(self.answered_twice) <= in_hand and all(
            len(times := self.reply_times[(s.chat, s.message_id)]) == 2
            and times[0] <= killed_at < times[1]
            for s in self.answered_twice
        )
        return self.ok_but_repeats and repeats_in_flight


def check(run: LoadRun, database_url: str) -> Checks:
    """Match each reply to the message it quotes; compare the images table with the pictures
    sent.

    Every picture in the mix is a readable digit, so each must be stored, once.
    """
    telegram, result = run.telegram, run.result
    sent = {(m.chat, m.message_id) for m in result.sent}
    answers: dict[tuple[int, int], list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    stray = []
    for chat in result.per_chat():
        replies = telegram.sent.get(chat, [])
        for reply, at in zip(replies, telegram.reply_times[chat], strict=True):
            answered = (chat, reply.get("reply_to_message_id"))
            if answered in sent:
                answers[answered].append((at, reply))
            else:
                stray.append(reply)
    unanswered, twice, latencies = [], [], []
    replied_with_picture = 0
    for message in result.sent:
        replies_to_it = answers.get((message.chat, message.message_id), [])
        if not replies_to_it:
            unanswered.append(message)
            continue
        if len(replies_to_it) > 1:
            twice.append(message)
        at, first = replies_to_it[0]
        latencies.append(at - message.at)
        replied_with_picture += message.picture and "photo" in first
    accepted = {(m.chat, m.message_id) for m in result.sent if m.picture}
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            # A photo is stored once as its first digit's row (several digits: a row each).
            first_digits = select(images.c.chat_id, images.c.message_id).where(
                images.c.digit_index == 0
            )
            rows = connection.execute(first_digits).all()
    finally:
        engine.dispose()
    stored = {(row.chat_id, row.message_id) for row in rows}
    return Checks(
        messages=len(result.sent),
        unanswered=unanswered,
        answered_twice=twice,
        stray=stray,
        reply_times={key: [at for at, _ in replies] for key, replies in answers.items()},
        pictures_replied=replied_with_picture,
        pictures_sent=len(accepted),
        stored=len(rows),
        stored_not_accepted=stored - accepted,
        accepted_not_stored=accepted - stored,
        latencies=latencies,
    )


def free_port() -> int:
    """A loopback port nobody listens on right now, for a server the test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_under_load(
    workdir: Path, model_path: Path, *, webhook: bool = False, **extra_env: str
) -> AsyncIterator[tuple[TimedTelegram, BotProcess]]:
    """The fake server and a started bot process (stopped with SIGTERM on the way out).

    `webhook`: the bot serves a webhook on a free loopback port instead of long polling.
    """
    if webhook:
        port = free_port()
        extra_env = {
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram-updates",
            "WEBHOOK_PORT": str(port),
        } | extra_env
    async with TimedTelegram(TOKEN) as telegram:
        env = bot_env(telegram, workdir, model_path, **extra_env)
        bot = BotProcess(env=env, cwd=workdir, log=workdir / "bot.log")
        await bot.start()
        try:
            await bot.ready(telegram)
            yield telegram, bot
        finally:
            if bot.process is not None:
                await bot.stop()
