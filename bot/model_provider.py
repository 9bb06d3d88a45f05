"""The model being served, swapped atomically when a retraining produces a better one."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from model.modelfile import DigitModel, ModelFileError, load_model

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class ModelProvider:
    """Holds the current `DigitModel` and the bounded worker pool that runs model work.

    Handlers read `current` once per photo, so a swap in the middle of a reply never mixes two
    models. Loading tries, newest first, the files in `models_dir`, then the shipped file.
    """

    def __init__(self, models_dir: Path, shipped_path: Path, *, workers: int = 2) -> None:
        self.models_dir = models_dir
        self.shipped_path = shipped_path
        self._model: DigitModel | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="model")

    @property
    def current(self) -> DigitModel:
        """The model to use now."""
        if self._model is None:
            raise RuntimeError("no model loaded yet: call reload() first")
        return self._model

    def swap(self, model: DigitModel) -> None:
        """Serve `model` from now on (one reference assignment: readers see old or new)."""
        previous = self._model.version if self._model else None
        self._model = model
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
            self.swap(model)
            return model
        raise ModelFileError(
            f"No usable model file: none in {self.models_dir} and {self.shipped_path} "
            "is missing or damaged. Train one with `python -m model train`."
        )

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run CPU-heavy model work in the pool so the event loop only awaits it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        """Finish the work in hand and stop the pool."""
        self._pool.shutdown(wait=True)

    def _candidates(self, preferred: Path | None) -> list[Path]:
        newest_first = sorted(
            self.models_dir.glob("*.npz") if self.models_dir.is_dir() else [],
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        ordered = [preferred] if preferred else []
        ordered += [*newest_first, self.shipped_path]
        return list(dict.fromkeys(ordered))
