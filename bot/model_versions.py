"""Model files on disk: the shipped model, accepted retrains, and candidates under training.

A retrain writes into `<models_dir>/candidates/`; only a model that passed the gate is
moved (atomically, same filesystem) to `<models_dir>/<version>.npz`. So every file
directly in `models_dir` was good once, a crash mid-run leaves nothing the bot would
start on (`ModelProvider.reload` globs `models_dir/*.npz` only), and the shipped file is
only ever read.

The database is the source of truth for which model serves and for its bytes (replicas on
other machines share no disk): `active_model_file` makes `<models_dir>/<version>.npz` a
local copy of the active version whose SHA-256 matches the database's, fetching it when
there is none.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage import ModelFile
from model.serving.modelfile import ModelFileError

if TYPE_CHECKING:
    from bot.storage import Storage

log = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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
        target = self.version_path(version)
        os.replace(candidate, target)
        return target

    def version_path(self, version: str) -> Path:
        """`<models_dir>/<version>.npz`; a version that is no plain file name is refused."""
        if not _VERSION_RE.fullmatch(version):
            raise ModelFileError(f"model version {version!r} is not a valid file name")
        return self.models_dir / f"{version}.npz"

    def stored_file(self, version: str) -> ModelFile:
        """The accepted file of `version` with its SHA-256, to be stored in the database."""
        return ModelFile.of(version, self.version_path(version).read_bytes())

    def cached(self, version: str, sha256: str) -> Path | None:
        """The local copy of `version`, if there is one whose bytes hash to `sha256`."""
        path = self.version_path(version)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
        return None

    def cache(self, file: ModelFile) -> Path:
        """Write a file read from the database to `<models_dir>/<version>.npz`, atomically.

        Bytes that do not hash to their stored SHA-256 are refused (ModelFileError).
        """
        if not file.intact:
            raise ModelFileError(
                f"model {file.version} in the database does not match its SHA-256; "
                "it was damaged after it was stored"
            )
        target = self.version_path(file.version)
        self.models_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")  # not *.npz: never served half-written
        partial.write_bytes(file.data)
        os.replace(partial, target)
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


async def active_model_file(storage: Storage, versions: ModelVersions) -> tuple[str, Path] | None:
    """(version, local file) of the model the database says every process serves.

    None before any promotion, or when the active file cannot be had (logged); the caller
    then keeps what it serves, or falls back to the newest local file and the shipped one.
    A version promoted before model files were stored in the database has only its path.
    """
    active = await storage.active_model()
    if active is None:
        return None
    version, recorded_path = active
    try:
        sha256 = await storage.model_file_sha256(version)
        if sha256 is None:
            return version, Path(recorded_path)
        path = await asyncio.to_thread(versions.cached, version, sha256)
        if path is None:
            file = await storage.model_file(version)
            if file is None:
                raise ModelFileError(f"model {version} is no longer in the database")
            path = await asyncio.to_thread(versions.cache, file)
            log.info("model %s fetched from the database (%d bytes)", version, len(file.data))
    except ModelFileError as exc:
        log.warning("cannot use the active model %s: %s", version, exc)
        return None
    return version, path
