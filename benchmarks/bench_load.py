"""Load on the real bot: `python -m bot` in its own process, users simulated through FakeTelegram.

Simulated users send a mix of messages (80% 1280 px photos, 10% PNG/JPEG files, 5% commands,
5% broken or non-picture files) either at a fixed offered rate (open loop) or flat out (each
user sends again as soon as answered). Prints throughput, reply latency percentiles, the
peak RSS of the bot and its workers, CPU per message (bot, workers, and this process: the
fake Telegram and the users share the machine's cores with the bot), and checks that every
message got exactly one reply and that the database holds exactly the pictures the bot
answered with a cluster.

    python -m benchmarks.bench_load --messages 10000 --users 100 --rate 50
    python -m benchmarks.bench_load --messages 10000 --users 100 --rate 0      # flat out
    python -m benchmarks.bench_load --rate 50 --retrain 60000    # while a retraining runs
    python -m benchmarks.bench_load --rate 0 --webhook           # Telegram posts the updates
    python -m benchmarks.bench_load --rate 0 --workers 1         # one model worker process
    python -m benchmarks.bench_load --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    python -m benchmarks.bench_load --replicas 2 --postgres URL   # two bots behind a proxy

The first line times bench_preprocess's baseline (a plain decode and resize of a 1280x960 JPEG)
before the load starts, so figures taken on different machines can be set side by side.

`--retrain N` runs the bot's own retraining child (`bot.trainer.run_training`: the same
command, at the same lowered priority) on the first N MNIST images during the load.

`--replicas N` starts N bots on one PostgreSQL schema (`--postgres` is needed), each with its
own working and models directory, in webhook mode behind a round-robin proxy
(testkit/replicas.py); it adds each replica's share of the updates. N replicas on a machine's
shared cores do not go faster than one: the point is that nothing is lost and the work is
shared. `--kill-at` then kills the first replica for good and the others carry on.

Exit code 1 when a check fails. After a `--kill-at`, the replies in flight at the kill may go
out twice (at most the updates in hand, each once before the kill and once after), as
tests/system/test_faults_load.py allows: whether a killed process's last request reached Telegram
cannot be known.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_preprocess import decode_and_resize, median_ms, telegram_photo
from bot.app import CONCURRENT_UPDATES
from bot.trainer import TrainingError, TrainingJob, run_training
from model.learning.report import TrainingReport
from model.mnist import load_mnist, resolve_mnist_dir
from testkit.bot_harness import ADMIN_ID
from testkit.load_driver import (
    BotProcess,
    Checks,
    LoadRun,
    TimedTelegram,
    bot_under_load,
    check,
    cpu_of_command,
    message_mix,
)
from testkit.postgres_schema import fresh_schema, schema_url
from testkit.replicas import RoundRobinProxy, replicas_behind_proxy, setwebhook_calls


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s offered; 0: flat out")
    parser.add_argument("--model", type=Path, default=Path("data/model.npz"))
    parser.add_argument("--data", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--retrain", type=int, default=0, help="train on N images meanwhile")
    parser.add_argument(
        "--webhook", action="store_true", help="the bot serves a webhook instead of polling"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="store in a fresh schema on this PostgreSQL server instead of a SQLite file, "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--kill-at", type=float, default=None, help="kill -9 after this share")
    parser.add_argument(
        "--replicas", type=int, default=1, help="bots on one PostgreSQL behind a proxy"
    )
    parser.add_argument(
        "--workers", type=int, help="MODEL_WORKERS (default: the bot's own, one per core but one)"
    )
    args = parser.parse_args(argv)
    if args.replicas > 1 and not args.postgres:
        parser.error("--replicas needs --postgres URL: replicas share one PostgreSQL")
    return args


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class CpuUse:
    """CPU seconds spent during the load by the bot, its workers, this process, and the
    PostgreSQL server when the bot stores there."""

    bot: float
    workers: float
    driver: float
    database: float = 0.0


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(
    checks: Checks,
    seconds: float,
    pictures: int,
    bots: list[BotProcess],
    cpu: CpuUse,
    ok: bool,
    refused: int,
) -> str:
    """The figures as aligned lines (RSS and starts summed over the replicas)."""
    ms = [1000 * s for s in checks.latencies] or [0.0]
    per_message = 1000 / max(1, checks.messages)
    lines = [
        f"messages        {checks.messages} ({pictures} pictures) in {seconds:.1f} s",
        f"throughput      {checks.messages / seconds:.1f} messages/s, "
        f"{pictures / seconds:.1f} pictures/s",
        f"reply latency   p50 {statistics.median(ms):.0f} ms  p95 {_percentile(ms, 0.95):.0f} ms"
        f"  p99 {_percentile(ms, 0.99):.0f} ms  max {max(ms):.0f} ms",
        f"bot peak RSS    {sum(b.peak_rss for b in bots) / 2**20:.0f} MB (bot and its workers"
        f"{', all replicas' if len(bots) > 1 else ''}; starts: {sum(b.starts for b in bots)})",
        f"CPU per message bot {cpu.bot * per_message:.1f} ms + its workers "
        f"{cpu.workers * per_message:.1f} ms ({(cpu.bot + cpu.workers) / seconds:.0%} of a core); "
        f"fake Telegram + users {cpu.driver * per_message:.1f} ms ({cpu.driver / seconds:.0%})"
        + (
            f"; PostgreSQL server {cpu.database * per_message:.1f} ms "
            f"({cpu.database / seconds:.0%})"
            if cpu.database
            else ""
        ),
        f"exactly once    unanswered {len(checks.unanswered)}, "
        f"answered twice {len(checks.answered_twice)}; sends Telegram refused {refused}",
        f"database        {checks.stored} images stored of {checks.pictures_sent} pictures sent "
        f"({checks.pictures_replied} answered with a picture); stored but not sent "
        f"{len(checks.stored_not_accepted)}, sent but not stored {len(checks.accepted_not_stored)}",
        f"verdict         {'OK' if ok else 'FAILED'}",
    ]
    return "\n".join(lines)


def machine_speed() -> str:
    """One core's time for a fixed piece of work, to compare runs made on different machines."""
    name = "decode + resize"
    ms = median_ms({name: decode_and_resize}, {name: telegram_photo()}, repeat=100)[name]
    return f"machine         {ms:.2f} ms to decode and resize a 1280x960 JPEG (one core)"


def replica_shares(proxy: RoundRobinProxy, telegram: TimedTelegram) -> str:
    """Each replica's share of the updates it answered, and its failed forwards."""
    total = sum(upstream.handled for upstream in proxy.upstreams) or 1
    shares = ", ".join(
        f"{'abcdefgh'[i]} {u.handled} ({u.handled / total:.0%}, {u.failed} failed forwards)"
        for i, u in enumerate(proxy.upstreams)
    )
    webhooks = setwebhook_calls(telegram)
    same = "same URL and secret" if len(webhooks) == 1 else f"{len(webhooks)} different"
    return (
        f"replicas        {shares}\n"
        f"setWebhook      {sum(webhooks.values())} calls, {same}; "
        f"stand-in re-deliveries {telegram.webhook_failures}"
    )


@contextlib.asynccontextmanager
async def _bots(
    args: argparse.Namespace, workdir: Path, extra: dict[str, str]
) -> AsyncIterator[tuple[TimedTelegram, list[BotProcess], RoundRobinProxy | None]]:
    """One bot (polling or webhook), or `--replicas` bots behind the proxy."""
    model = args.model.resolve()
    if args.replicas > 1:
        database_url = extra.pop("DATABASE_URL")
        async with replicas_behind_proxy(
            workdir, model, database_url, count=args.replicas, **extra
        ) as replicas:
            yield replicas.telegram, replicas.bots, replicas.proxy
    else:
        async with bot_under_load(workdir, model, webhook=args.webhook, **extra) as (tg, bot):
            yield tg, [bot], None


def _cpu(bots: list[BotProcess]) -> tuple[float, float]:
    seconds = [bot.cpu_seconds() for bot in bots]
    return sum(main for main, _ in seconds), sum(workers for _, workers in seconds)


async def _run(args: argparse.Namespace) -> int:
    print(machine_speed())
    digits = load_mnist(resolve_mnist_dir(args.data)).test_images[:60]
    mix = message_mix(digits)
    extra = {"ADMIN_IDS": str(ADMIN_ID), "MNIST_DIR": str(resolve_mnist_dir(args.data))}
    if args.replicas > 1:
        extra["MODEL_WORKERS"] = "1"  # N replicas share this machine's cores
    if args.workers:
        extra["MODEL_WORKERS"] = str(args.workers)
    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        database_url = f"sqlite:///{workdir / 'bot.sqlite3'}"
        if args.postgres:
            schema = cleanup.enter_context(fresh_schema(args.postgres))
            database_url = schema_url(args.postgres, schema)
        extra["DATABASE_URL"] = database_url
        async with _bots(args, workdir, extra) as (telegram, bots, proxy):
            run = LoadRun(telegram, args.users, mix)
            kill_after = None if args.kill_at is None else int(args.kill_at * args.messages)
            killed_at: float | None = None

            async def on_tick(i: int) -> None:
                nonlocal killed_at
                if i % 50 == 0:
                    for bot in bots:
                        bot.sample_rss()
                if i == kill_after:
                    await bots[0].kill()
                    killed_at = time.perf_counter()
                    if proxy is None:  # one bot: restarted; replicas: the others carry on
                        await bots[0].start()

            training = await _start_training(args, workdir) if args.retrain else None
            (bot_cpu, workers_cpu), own_cpu = _cpu(bots), _own_cpu()
            database_cpu = cpu_of_command("postgres") if args.postgres else 0.0
            if args.rate > 0:
                await run.at_rate(args.messages, args.rate, on_tick)
            else:
                await run.flat_out(args.messages, on_tick)
            await run.drain(within=600)
            for bot in bots:
                bot.sample_rss()
            bot_after, workers_after = _cpu(bots)
            cpu = CpuUse(
                bot_after - bot_cpu,
                workers_after - workers_cpu,
                _own_cpu() - own_cpu,
                cpu_of_command("postgres") - database_cpu if args.postgres else 0.0,
            )
            seconds = run.result.finished - run.result.started
            if training is not None:
                print(f"training        {await _training_outcome(training)}")
        checks = check(run, database_url)
        # The replies in flight at a kill may go out twice (tests/system/test_faults_load.py).
        ok = checks.ok if killed_at is None else checks.ok_across(killed_at, CONCURRENT_UPDATES)
        pictures = sum(m.picture for m in run.result.sent)
        mode = "flat out" if args.rate <= 0 else f"{args.rate:g}/s offered"
        mode += ", webhook" if args.webhook or proxy else ", long polling"
        mode += ", PostgreSQL" if args.postgres else ", SQLite"
        if proxy is not None:
            mode += f", {args.replicas} replicas behind a round-robin proxy"
        print(f"load            {args.users} users, {mode}, {time.strftime('%H:%M:%S')}")
        print(report(checks, seconds, pictures, bots, cpu, ok, telegram.refused))
        if proxy is not None:
            print(replica_shares(proxy, telegram))
        if not ok:
            for bot in bots:
                print(f"log: {bot.log.read_text()[-3000:]}", file=sys.stderr)
    return 0 if ok else 1


async def _start_training(args: argparse.Namespace, workdir: Path) -> asyncio.Task[TrainingReport]:
    """The bot's own retraining child process (same command, same lowered priority)."""
    job = TrainingJob(
        out=workdir / "retrained.npz",
        data_dir=resolve_mnist_dir(args.data),
        limit=args.retrain,
    )
    return asyncio.create_task(run_training(job, time_limit=3600))


async def _training_outcome(training: asyncio.Task[TrainingReport]) -> str:
    """Whether the training overlapped the whole load, and how long it took."""
    if not training.done():
        training.cancel()  # run_training kills the child
        with contextlib.suppress(asyncio.CancelledError):
            await training
        return "still running when the load ended (killed): it overlapped all of it"
    try:
        result = training.result()
    except TrainingError as exc:
        return f"failed: {exc}"
    return f"finished during the load, in {result.duration_s:.0f} s"


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_run(_parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
