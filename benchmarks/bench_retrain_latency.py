"""Photo reply latency of the running bot before and during a retraining.

Starts the real bot against the local FakeTelegram server (testkit/fake_telegram.py), sends
MNIST digits as photos one after another and times each reply: first with the bot idle,
then while a retraining (the real trainer subprocess, on the first `--limit` MNIST
images) runs. Prints p50/p95/max per phase and the retraining's outcome.

    python -m benchmarks.bench_retrain_latency [--model data/model.npz] [--limit 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.context import RETRAINER
from bot.retrain import Retrainer
from model.mnist import load_mnist, resolve_mnist_dir
from testkit.bot_harness import RunningBot, photo_of, running_bot


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("data/model.npz"))
    parser.add_argument("--data", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--limit", type=int, default=3000, help="MNIST images the retrain uses")
    parser.add_argument("--idle", type=int, default=30, help="photos timed before the retrain")
    parser.add_argument("--max-during", type=int, default=5000, help="cap on photos during it")
    return parser.parse_args(argv)


async def _reply_seconds(bot: RunningBot, chat: int, photo: bytes, seen: int) -> float:
    """Send one photo and wait for the bot's reply (the `seen + 1`-th message in `chat`)."""
    telegram = bot.telegram
    started = time.perf_counter()
    telegram.send_photo_from_user(chat, chat, photo)
    await telegram.wait_for_replies(chat, seen + 1, within=120)
    return time.perf_counter() - started


def _summary(name: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{name:<8} no photos"
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name:<8} n={len(ms):<4} p50={statistics.median(ms):7.1f} ms  "
        f"p95={p95:7.1f} ms  max={ms[-1]:7.1f} ms"
    )


async def _run(args: argparse.Namespace) -> int:
    mnist_dir = resolve_mnist_dir(args.data)
    digits = load_mnist(mnist_dir).test_images
    photos = [photo_of(digit) for digit in digits[:200]]
    chat = 777
    with tempfile.TemporaryDirectory() as tmp:
        async with running_bot(
            Path(tmp), args.model.resolve(), mnist_dir=mnist_dir, rate_limit="100000/minute"
        ) as bot:
            retrainer: Retrainer = bot.application.bot_data[RETRAINER]
            retrainer.options = dataclasses.replace(retrainer.options, limit=args.limit)
            idle = [
                await _reply_seconds(bot, chat, photos[seen % len(photos)], seen)
                for seen in range(args.idle)
            ]
            if not await retrainer.start("benchmark"):
                print("a retraining is already running; nothing measured", file=sys.stderr)
                return 1
            during: list[float] = []
            while retrainer.running and len(during) < args.max_during:
                seen = args.idle + len(during)
                photo = photos[seen % len(photos)]
                during.append(await _reply_seconds(bot, chat, photo, seen))
            outcome = await retrainer.wait()
    print(_summary("idle", idle))
    print(_summary("retrain", during))
    print(f"retraining on {args.limit} MNIST images: {outcome}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the latency table; exit 1 when nothing could be measured."""
    return asyncio.run(_run(_parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
