"""How fast does the store keep photos and answer /stats, on SQLite and on PostgreSQL?

Saves ``--n`` photos with ``--kb`` KB originals from ``--concurrency`` tasks at once (as a
burst of Telegram updates would), then times the admin /stats query, the status report,
a user's /stats and erasing one user, each the median of ``--repeat`` runs.

    python -m benchmarks.bench_storage [--n 2000] [--kb 100] [--concurrency 16]
        [--sqlite-dir /tmp] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy.engine import make_url

from bot.digit import RecognisedDigit
from bot.storage import IncomingImage, Storage, open_storage

USERS = 50


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="photos to save")
    parser.add_argument("--kb", type=int, default=100, help="size of each original, KB")
    parser.add_argument("--concurrency", type=int, default=16, help="tasks saving at once")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timed query")
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    return parser.parse_args(argv)


def _photos(n: int, kb: int) -> list[IncomingImage]:
    rng = np.random.default_rng(0)
    original = rng.bytes(kb * 1024)
    now = datetime.now(UTC)
    return [
        IncomingImage(
            chat_id=i % USERS,
            user_id=i % USERS,
            message_id=i,
            received_at=now - timedelta(minutes=i),
            original=original,
            mime_type="image/jpeg",
            digit=RecognisedDigit(
                mnist=rng.integers(0, 256, (28, 28), dtype=np.uint8),
                cluster=i % 10,
                distance=float(i),
                typicality=0.5,
                is_outlier=False,
            ),
            model_version="bench",
        )
        for i in range(n)
    ]


async def _median_ms(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def _bench(url: str, args: argparse.Namespace) -> None:
    photos = _photos(args.n, args.kb)
    storage: Storage = await open_storage(url)
    try:
        gate = asyncio.Semaphore(args.concurrency)

        async def save(photo: IncomingImage) -> None:
            async with gate:
                await storage.save_image(photo)

        start = time.perf_counter()
        await asyncio.gather(*(save(photo) for photo in photos))
        elapsed = time.perf_counter() - start
        now = datetime.now(UTC)
        print(
            f"{storage.dialect}: saved {args.n} x {args.kb} KB in {elapsed:.2f} s "
            f"({args.n / elapsed:.0f} photos/s)"
        )
        figures = {
            "global_stats": lambda: storage.global_stats(now),
            "status_report(24h)": lambda: storage.status_report(now - timedelta(days=1)),
            "user_stats": lambda: storage.user_stats(1),
            "duplicate save": lambda: storage.save_image(photos[0]),
        }
        for name, call in figures.items():
            print(f"  {name}: {await _median_ms(call, args.repeat):.1f} ms")
        print(f"  forget_user: {await _median_ms(lambda: storage.forget_user(2), 1):.1f} ms")
    finally:
        await storage.close()


def _postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A throwaway schema on the server, so the benchmark touches nobody's tables."""
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")

    return f"{url}?options=-csearch_path%3D{schema}", drop


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory(dir=args.sqlite_dir) as directory:
        asyncio.run(_bench(f"sqlite:///{Path(directory) / 'bench.sqlite3'}", args))
    try:
        url, drop = _postgres_schema(args.postgres)
    except psycopg.Error as exc:
        print(f"postgresql: skipped ({str(exc).splitlines()[0]})")
        return 0
    try:
        asyncio.run(_bench(url, args))
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
