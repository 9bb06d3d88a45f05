"""The model being served, swapped atomically, and the pools that run model work."""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import ParamSpec, TypeVar

from bot.recognition import Recognition, recognise, recognise_with, start_worker
from bot.render import Wording
from model.serving.modelfile import DigitModel, ModelFileError, load_model

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class ModelProvider:
    """Holds the current `DigitModel`, the file it came from, and the pools that use it.

    Photos are recognised in `processes` worker processes, so preprocessing runs on every core
    while the event loop keeps its own; other model work (loading, judging, drawing /cluster)
    runs in a small thread pool. Handlers read the served model once per photo, so a swap in the
    middle of a reply never mixes two models. Loading tries, newest first, the files in
    `models_dir`, then the shipped file.
    """

    def __init__(
        self, models_dir: Path, shipped_path: Path, *, processes: int = 2, threads: int = 2
    ) -> None:
        self.models_dir = models_dir
        self.shipped_path = shipped_path
        self.processes = processes
        self._served: tuple[DigitModel, Path] | None = None
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="model")
        self._workers = self._new_workers()

    @property
    def current(self) -> DigitModel:
        """The model to use now."""
        return self._now()[0]

    @property
    def current_path(self) -> Path:
        """The file the current model was loaded from (worker processes load it from there)."""
        return self._now()[1]

    def swap(self, model: DigitModel, path: Path) -> None:
        """Serve `model`, loaded from `path`, from now on (readers see old or new, never both)."""
        previous = self._served[0].version if self._served else None
        self._served = (model, path)
        log.info("serving model %s (was %s)", model.version, previous)

    def reload(self, preferred: Path | None = None) -> DigitModel:
        """Load and serve the first good model file: `preferred`, newest in models_dir, shipped.

        Blocking (disk and numpy); call it through `run` from async code.
        """
        skipped = 0
        for path in self._candidates(preferred):
            try:
                model = load_model(path)
            except ModelFileError as exc:
                log.warning("skipping model file: %s", exc)
                skipped += 1
                continue
            if skipped and path == self.shipped_path:
                log.warning("falling back to the shipped model %s (%s)", path, model.version)
            self.swap(model, path)
            return model
        raise ModelFileError(
            f"No usable model file: none in {self.models_dir} and {self.shipped_path} "
            "is missing or damaged. Train one with `python -m model train`."
        )

    async def recognise(self, data: bytes, wording: Wording | None = None) -> Recognition:
        """Find the digits, assign and draw the reply in a worker process, as `wording` says;
        raises PreprocessError.

        A worker that died (killed, out of memory) is replaced and the photo tried once more;
        a model file gone from disk since it was served is handled here with the loaded copy.
        """
        model, path = self._now()
        loop = asyncio.get_running_loop()
        job = functools.partial(recognise_with, path, model.version, data, wording)
        for attempt in (1, 2):
            workers = self._workers
            try:
                return await asyncio.wrap_future(self._submit(workers, job), loop=loop)
            except BrokenProcessPool:
                log.warning("a model worker process died; starting new ones")
                self._replace_workers(workers)
                if attempt == 2:
                    raise
            except ModelFileError as exc:
                log.warning("workers cannot load the served model (%s); recognising here", exc)
                break
        return await self.run(recognise, model, data, wording)

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking model work in the thread pool so the event loop only awaits it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, functools.partial(function, *args, **kwargs)
        )

    def close(self) -> None:
        """Finish the work in hand and stop the pools."""
        self._workers.shutdown(wait=True)
        self._threads.shutdown(wait=True)

    def _now(self) -> tuple[DigitModel, Path]:
        if self._served is None:
            raise RuntimeError("no model loaded yet: call reload() first")
        return self._served

    def _new_workers(self) -> ProcessPoolExecutor:
        # spawn, not fork: the bot has threads (storage, notifications) that fork would copy
        # in whatever state they are in.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
        )

    @staticmethod
    def _submit(workers: ProcessPoolExecutor, job: Callable[[], T]) -> Future[T]:
        """Submit `job`, reporting a pool that cannot start a worker as broken.

        A pool whose workers were just killed may not know it yet: starting a replacement then
        races with the pool closing its pipes, and fails with ValueError or OSError.
        """
        try:
            return workers.submit(job)
        except (ValueError, OSError) as exc:
            raise BrokenProcessPool(f"cannot start a worker process: {exc}") from exc

    def _replace_workers(self, broken: ProcessPoolExecutor) -> None:
        if self._workers is broken:
            self._workers = self._new_workers()
            broken.shutdown(wait=False)

    def _candidates(self, preferred: Path | None) -> list[Path]:
        newest_first = sorted(
            self.models_dir.glob("*.npz") if self.models_dir.is_dir() else [],
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        ordered = [preferred] if preferred else []
        ordered += [*newest_first, self.shipped_path]
        return list(dict.fromkeys(ordered))
