"""Model files on disk: the shipped model, accepted retrains, and candidates under training.

A retrain writes into `<models_dir>/candidates/`; only a model that passed the gate is
moved (atomically, same filesystem) to `<models_dir>/<version>.npz`. So every file
directly in `models_dir` was good once, a crash mid-run leaves nothing the bot would
start on (`ModelProvider.reload` globs `models_dir/*.npz` only), and the shipped file is
only ever read.
"""

from __future__ import annotations

import os
from pathlib import Path


class ModelVersions:
    """Where a retrain's files go: candidates while undecided, `models_dir` once accepted."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self.candidates_dir = self.models_dir / "candidates"

    def candidate_path(self, run_id: int) -> Path:
        """Where retrain run `run_id` writes its model before the gate decides."""
        self.candidates_dir.mkdir(parents=True, exist_ok=True)
        return self.candidates_dir / f"run-{run_id}.npz"

    def extra_path(self, run_id: int) -> Path:
        """Where the users' 28x28 images for run `run_id` are handed to the trainer."""
        self.candidates_dir.mkdir(parents=True, exist_ok=True)
        return self.candidates_dir / f"run-{run_id}-extra.npy"

    def promote(self, candidate: Path, version: str) -> Path:
        """Move an accepted candidate to `<models_dir>/<version>.npz` and return that path."""
        target = self.models_dir / f"{version}.npz"
        os.replace(candidate, target)
        return target

    def discard_run(self, run_id: int) -> None:
        """Delete what run `run_id` left in candidates (its extra images, a rejected model)."""
        self.candidate_path(run_id).unlink(missing_ok=True)
        self.extra_path(run_id).unlink(missing_ok=True)

    def clear_candidates(self, keep_run: int | None = None) -> int:
        """Delete leftovers of runs that died, except `keep_run`'s (it may be running in
        another process); returns how many files went.
        """
        if not self.candidates_dir.is_dir():
            return 0
        keep = f"run-{keep_run}" if keep_run is not None else None
        removed = 0
        for path in self.candidates_dir.iterdir():
            if keep is not None and path.name.split(".")[0].removesuffix("-extra") == keep:
                continue
            path.unlink(missing_ok=True)
            removed += 1
        return removed
