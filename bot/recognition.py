"""The CPU part of answering a photo: preprocess, assign, draw. Runs in the model worker processes.

Each worker process keeps the models it has served, keyed by version, and loads a version from
its file the first time a job names it: a job carries a path and a version, never a model.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.render import render_reply
from model.modelfile import DigitModel, ModelFileError, load_model
from model.preprocess import to_mnist

MODELS_KEPT = 2  # the served model and the one before it, for jobs sent just before a swap
PARENT_CHECK_EVERY = 1.0  # seconds

_models: dict[str, DigitModel] = {}


@dataclass(frozen=True)
class Recognition:
    """Everything the reply and the database need about one picture, and who made it."""

    mnist: NDArray[np.uint8]
    cluster: int
    distance: float
    typicality: float
    is_outlier: bool
    model_version: str
    picture: bytes
    pid: int  # the worker process that recognised it (the bot's own when it fell back)


def recognise(model: DigitModel, data: bytes) -> Recognition:
    """Turn picture bytes into a cluster and the reply picture; raises PreprocessError."""
    mnist = to_mnist(data)
    assigned = model.assign(mnist[np.newaxis])
    cluster = int(assigned.clusters[0])
    is_outlier = bool(assigned.is_outlier[0])
    samples = None if is_outlier else model.samples(cluster)
    return Recognition(
        mnist=mnist,
        cluster=cluster,
        distance=float(assigned.distances[0]),
        typicality=float(assigned.typicality[0]),
        is_outlier=is_outlier,
        model_version=model.version,
        picture=render_reply(mnist, samples),
        pid=os.getpid(),
    )


def recognise_with(path: Path, version: str, data: bytes) -> Recognition:
    """`recognise` with model `version` from `path`, loaded once per worker process."""
    return recognise(model_for(path, version), data)


def model_for(path: Path, version: str) -> DigitModel:
    """The worker's copy of model `version`; raises ModelFileError if `path` holds another."""
    model = _models.get(version)
    if model is None:
        model = load_model(path)
        if model.version != version:
            raise ModelFileError(f"{path} now holds model {model.version}, not {version}")
        while len(_models) >= MODELS_KEPT:
            del _models[next(iter(_models))]
        _models[version] = model
    return model


def start_worker() -> None:
    """Worker process set-up: stopping is the parent's business; exit when the parent is gone.

    Ctrl-C and a service manager's SIGTERM reach the whole process group, but the bot first
    finishes the photos in hand, which needs its workers, then stops them. A parent killed
    with SIGKILL cannot stop its pool, and the workers would wait for jobs forever; they
    watch for it instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()

    def exit_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_EVERY)
        os._exit(0)

    threading.Thread(target=exit_with_parent, name="parent-watch", daemon=True).start()
