"""Retraining: one run at a time across processes, trained in a child process, gated, swapped.

The lock is a row in the database (`Storage.try_start_retrain`), so a second /retrain, a
schedule firing during a manual run, or another bot process on the same PostgreSQL all
get "already running". The run heartbeats while the child trains; a run whose process
died stops heartbeating and is marked failed by the next `recover()` or `start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from telegram import Bot
from telegram.error import TelegramError

from bot import pushes
from bot.admin_pictures import model_sheet
from bot.model_versions import ModelVersions
from bot.pushes import Push
from bot.quality_gate import GateDecision, QualityGate, probe_images
from bot.trainer import HEARTBEAT_EVERY, TrainingError, TrainingJob, run_training
from model.learning.report import TrainingReport
from model.mnist import DOWNLOAD_MIRRORS, MNIST_FILES, MnistError, download_mnist
from model.serving.modelfile import ModelFileError, load_model

if TYPE_CHECKING:
    from bot.model_provider import ModelProvider
    from bot.notify import Notifier
    from bot.storage import Storage

log = logging.getLogger(__name__)

SCHEDULE = "schedule"  # the trigger recorded and pushed for a scheduled run
TIME_LIMIT = 3 * 3600.0  # seconds a run may train before it is stopped and failed
STALE_AFTER = timedelta(minutes=5)  # a run without a heartbeat this long is dead: failed
USER_DIGITS = 20_000  # users' stored digits a run learns from at most (RETRAIN_USER_DIGITS)
STOPPED = "the bot stopped during training"  # why a run cut short by a stop failed


@dataclass(frozen=True)
class RetrainOptions:
    """What a run trains on, and how long it may take.

    `mnist_dir` is where the trainer reads MNIST; files missing there (a fresh deployment)
    are downloaded from `mnist_mirrors` first, checksums verified, and the admins told.
    `limit` trains on the first N MNIST images only (tests); `user_digits` is how many of
    users' stored digits at most it learns from too (a uniform sample, read in batches, so
    the bot's memory for it is bounded).
    """

    mnist_dir: Path | None = None
    mnist_mirrors: tuple[str, ...] = DOWNLOAD_MIRRORS
    limit: int | None = None
    user_digits: int = USER_DIGITS
    seed: int | None = None
    time_limit: float = TIME_LIMIT
    heartbeat_every: float = HEARTBEAT_EVERY
    stale_after: timedelta = STALE_AFTER


class Retrainer:
    """Starts retraining runs and carries each to its end: swap, or keep the current model.

    `models_dir` holds the run's files and the accepted models; `gate` judges a new model;
    `bot`, when given, tells the admin who asked how the run ended.
    """

    def __init__(
        self,
        storage: Storage,
        provider: ModelProvider,
        notifier: Notifier,
        models_dir: Path,
        *,
        gate: QualityGate,
        options: RetrainOptions | None = None,
        bot: Bot | None = None,
    ) -> None:
        self.storage = storage
        self.provider = provider
        self.notifier = notifier
        self.versions = ModelVersions(models_dir)
        self.gate = gate
        self.options = options or RetrainOptions()
        self.bot = bot
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[str] | None = None
        self._open_run: int | None = None

    @property
    def running(self) -> bool:
        """True while this process carries a run."""
        return self._task is not None and not self._task.done()

    async def recover(self) -> int:
        """At start: mark runs whose process died as failed and delete their files."""
        stale = await self.storage.fail_stale_retrains(self.options.stale_after)
        if stale:
            log.warning("marked %d retraining run(s) without heartbeat as failed", stale)
        last = await self.storage.last_retrain()
        alive = last.id if last is not None and last.outcome is None else None
        await asyncio.to_thread(self.versions.clear_candidates, alive)
        return stale

    async def start(self, trigger: str, requested_by: int | None = None) -> bool:
        """Start a run in the background; False when one is already running anywhere.

        `trigger` is recorded and pushed as is ("schedule", "admin 123"); `requested_by`
        is the chat told how the run ended.
        """
        await self.storage.fail_stale_retrains(self.options.stale_after)
        run_id = await self.storage.try_start_retrain(trigger, self.owner)
        if run_id is None:
            return False
        await self.notifier.push(pushes.retrain_started(trigger))
        self._open_run = run_id
        self._task = asyncio.create_task(
            self._carry(run_id, requested_by), name=f"retrain-{run_id}"
        )
        return True

    async def wait(self) -> str | None:
        """Wait for this process's run to end; returns its outcome (None if there was none)."""
        if self._task is None:
            return None
        return await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop a run in progress: the child is killed, the run marked failed and announced."""
        if self._task is None or self._task.done():
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._open_run is not None:
            run_id, self._open_run = self._open_run, None
            await asyncio.to_thread(self.versions.discard_run, run_id)
            await self._finish(run_id, "failed", STOPPED, None)
            await self.notifier.push(pushes.retrain_failed(STOPPED))

    async def _carry(self, run_id: int, requested_by: int | None) -> str:
        """Run to the end and record the outcome; on cancellation `close` records it."""
        metrics: dict | None = None
        try:
            outcome, detail, push, metrics = await self._train_and_judge(run_id)
        except TrainingError as exc:
            outcome, detail = "failed", str(exc)
            push = pushes.retrain_failed(detail)
        except Exception as exc:
            log.exception("retraining run %d crashed", run_id)
            outcome, detail = "failed", f"internal error ({type(exc).__name__})"
            push = pushes.retrain_failed(detail)
        await asyncio.to_thread(self.versions.discard_run, run_id)
        await self._finish(run_id, outcome, detail, metrics)
        self._open_run = None
        log.info("retraining run %d %s: %s", run_id, outcome, detail)
        await self.notifier.push(push)
        await self._tell_admin(requested_by, push)
        return outcome

    async def _train_and_judge(self, run_id: int) -> tuple[str, str, Push, dict]:
        """Train, load, gate and maybe swap: (outcome, detail, push, metrics)."""
        current = self.provider.current
        options = self.options
        await self._download_missing_mnist()
        user_images = await self.storage.training_sample(options.user_digits, seed=options.seed)
        extra = await asyncio.to_thread(self._write_extra, run_id, user_images)
        job = TrainingJob(
            out=self.versions.candidate_path(run_id),
            previous=self._current_path(),
            extra=extra,
            data_dir=options.mnist_dir,
            limit=options.limit,
            seed=options.seed,
        )
        result = await run_training(
            job,
            time_limit=options.time_limit,
            heartbeat=lambda: self._heartbeat(run_id),
            heartbeat_every=options.heartbeat_every,
        )
        try:
            new = await self.provider.run(load_model, result.path)
        except ModelFileError as exc:
            raise TrainingError(f"the new model file is unusable: {exc}") from None
        probe = probe_images(current, user_images)
        decision: GateDecision = await self.provider.run(
            self.gate.judge,
            metrics=result.metrics,
            cluster_sizes=result.cluster_sizes,
            new=new,
            current=current,
            probe=probe,
            stored=user_images,
        )
        metrics = _run_metrics(result, decision)
        # Admins in Telegram also get the new model's confusion matrix and typical members.
        sheet = functools.partial(model_sheet, model=new, mnist_dir=options.mnist_dir)
        if not decision.accepted:
            rejected = pushes.retrain_rejected(decision.reason, sheet)
            return "rejected", decision.reason, rejected, metrics
        path = await asyncio.to_thread(self.versions.promote, result.path, new.version)
        # Into the database first: every replica serves what is there (pick-up job).
        file = await asyncio.to_thread(self.versions.stored_file, new.version)
        await self.storage.promote_model(file, new.metadata, str(path))
        self.provider.swap(new, path)
        finished = pushes.retrain_finished(result, sheet)
        return "succeeded", decision.reason, finished, metrics

    async def _heartbeat(self, run_id: int) -> None:
        if not await self.storage.heartbeat_retrain(run_id):
            raise TrainingError("the run was declared dead by another process (no heartbeat)")

    async def _finish(self, run_id: int, outcome: str, detail: str, metrics: dict | None) -> None:
        if not await self.storage.finish_retrain(run_id, outcome, detail, metrics):
            log.warning("retraining run %d was already closed when it ended %s", run_id, outcome)

    async def _tell_admin(self, requested_by: int | None, push: Push) -> None:
        if self.bot is None or requested_by is None or self.notifier.mirrors_to(requested_by):
            return
        try:
            await self.bot.send_message(requested_by, self.notifier.in_push_language(push).text)
        except TelegramError as exc:
            log.warning("could not tell the admin how retraining ended: %s", type(exc).__name__)

    def _write_extra(self, run_id: int, images: np.ndarray) -> Path | None:
        if len(images) == 0:
            return None
        path = self.versions.extra_path(run_id)
        np.save(path, np.ascontiguousarray(images, dtype=np.uint8))
        return path

    def _current_path(self) -> Path | None:
        path = self.provider.current_path
        return path if path.is_file() else None

    async def _download_missing_mnist(self) -> None:
        """Fetch the MNIST files a fresh deployment lacks; offline, say what to run instead."""
        directory = self.options.mnist_dir
        if directory is None or all((directory / f.name).is_file() for f in MNIST_FILES.values()):
            return
        try:
            await asyncio.to_thread(download_mnist, directory, mirrors=self.options.mnist_mirrors)
        except (MnistError, OSError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
            raise TrainingError(
                f"the MNIST files are missing from {directory} and could not be downloaded "
                f"({reason}); run `python -m model download {directory}` where the "
                "bot runs, then /retrain"
            ) from None
        log.info("downloaded the MNIST files to %s", directory)
        await self.notifier.push(pushes.mnist_downloaded(str(directory)))


def _run_metrics(result: TrainingReport, decision: GateDecision) -> dict:
    return {
        "version": result.version,
        "metrics": result.metrics,
        "cluster_sizes": result.cluster_sizes,
        "changed_answers": result.changed_answers,
        "n_extra": result.n_extra,
        "duration_s": result.duration_s,
        "gate": decision.reason,
    }
