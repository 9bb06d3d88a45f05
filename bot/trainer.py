"""Run `python -m model train --json` in a separate process and read its one-line result.

Training is CPU-heavy; in its own, lower-priority process it cannot stall the event loop
or hold the GIL, so the bot keeps answering photos while a retrain runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.learning.report import TrainingReport

log = logging.getLogger(__name__)

Heartbeat = Callable[[], Awaitable[None]]

# The trainer needs none of the bot's secrets, so its environment goes without them.
SECRET_VARIABLES = {"TELEGRAM_BOT_TOKEN", "NOTIFY_RUN_ENDPOINT", "DATABASE_URL"}
LOWEST_NICE = 19  # the trainer's priority where Linux's SCHED_IDLE is missing
HEARTBEAT_EVERY = 30.0  # seconds between two heartbeats while the trainer runs


class TrainingError(Exception):
    """The trainer exited with an error, timed out or printed no result; str() says why."""


def read_report(line: str) -> TrainingReport:
    """The trainer's JSON line as a record; TrainingError when it is not the expected shape."""
    try:
        return TrainingReport.from_json(line)
    except ValueError as exc:
        raise TrainingError(f"the trainer printed no usable result ({exc})") from None


@dataclass(frozen=True)
class TrainingJob:
    """The arguments of one `python -m model train` run.

    `limit` trains on the first N MNIST images only (seconds instead of minutes; tests).
    """

    out: Path
    previous: Path | None = None
    extra: Path | None = None
    data_dir: Path | None = None
    limit: int | None = None
    seed: int | None = None
    python: str = sys.executable

    def command(self) -> list[str]:
        """The argv of the trainer."""
        argv = [self.python, "-m", "model", "train", "--json", "--out", str(self.out)]
        for flag, value in (
            ("--previous", self.previous),
            ("--extra", self.extra),
            ("--data", self.data_dir),
            ("--limit", self.limit),
            ("--seed", self.seed),
        ):
            if value is not None:
                argv += [flag, str(value)]
        return argv


def run_in_background(pid: int) -> None:
    """Give process `pid` only the CPU time replies leave idle.

    Linux's SCHED_IDLE runs it only when nothing else wants the CPU (a nice value still takes
    a share of the cores from replies under load); elsewhere, the lowest priority. Set on every
    thread the child has so far; the threads it starts later inherit it.
    """
    tasks = Path(f"/proc/{pid}/task")
    threads = [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [pid]
    for thread in threads:
        with contextlib.suppress(OSError):
            if hasattr(os, "SCHED_IDLE"):
                os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
            else:
                os.setpriority(os.PRIO_PROCESS, thread, LOWEST_NICE)


async def run_training(
    job: TrainingJob,
    *,
    time_limit: float,
    heartbeat: Heartbeat | None = None,
    heartbeat_every: float = HEARTBEAT_EVERY,
    cwd: Path | None = None,
) -> TrainingReport:
    """Run the trainer, calling `heartbeat` every `heartbeat_every` seconds until it ends.

    Raises TrainingError with the trainer's own one-line error (its last stderr line),
    or when it runs longer than `time_limit` seconds. Whatever ends the wait early (the
    time limit, a failing heartbeat, cancellation) kills the child first.
    """
    process = await asyncio.create_subprocess_exec(
        *job.command(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={name: value for name, value in os.environ.items() if name not in SECRET_VARIABLES},
    )
    run_in_background(process.pid)
    output = asyncio.ensure_future(process.communicate())
    try:
        async with asyncio.timeout(time_limit):
            while not (await asyncio.wait({output}, timeout=heartbeat_every))[0]:
                if heartbeat is not None:
                    await heartbeat()
    except TimeoutError:
        await _stop(process, output)
        raise TrainingError(
            f"training took longer than {time_limit:.0f} s and was stopped"
        ) from None
    except BaseException:
        await _stop(process, output)
        raise
    stdout, stderr = output.result()
    if process.returncode != 0:
        raise TrainingError(_last_line(stderr) or f"the trainer exited with {process.returncode}")
    return read_report(_last_line(stdout))


async def _stop(process: asyncio.subprocess.Process, output: asyncio.Future[Any]) -> None:
    """Kill the trainer and reap it, even while the caller is being cancelled."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(Exception):
        await asyncio.shield(output)


def _last_line(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else ""
