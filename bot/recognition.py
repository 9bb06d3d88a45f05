"""The CPU part of answering a photo: find its digits, assign, draw. Runs in the model workers.

One digit gets the classic reply (what the bot saw beside its cluster's samples); several get
one picture of the photo with a numbered box and a tile per digit, up to MAX_DIGITS.

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
from PIL import Image, ImageOps

from bot.digit import RecognisedDigit
from bot.render import PAGE_WIDTH, Wording, render_page, render_reply
from model.serving.modelfile import DigitModel, ModelFileError, load_model
from model.serving.preprocess import Page, find_digits, open_image

MAX_DIGITS = 40  # a reply with more tiles is no longer readable on a phone
MODELS_KEPT = 2  # the served model and the one before it, for jobs sent just before a swap
PARENT_CHECK_EVERY = 1.0  # seconds between a worker's looks for its parent

_models: dict[str, DigitModel] = {}


@dataclass(frozen=True)
class Recognition:
    """Everything the reply and the database need about one picture, and who made it.

    `digits` is in reading order and empty only when the picture held more than MAX_DIGITS
    (`found` says how many; nothing was assigned or drawn then).
    """

    digits: tuple[RecognisedDigit, ...]
    found: int
    model_version: str
    picture: bytes
    pid: int  # the worker process that recognised it (the bot's own when it fell back)


def recognise(model: DigitModel, data: bytes, wording: Wording | None = None) -> Recognition:
    """Find the digits in picture bytes, assign each and draw the reply as `wording` says
    (English, no clusters' names, when not given); raises PreprocessError."""
    wording = wording or Wording()
    page = find_digits(data)
    found = len(page.digits)
    if found > MAX_DIGITS:
        return Recognition((), found, model.version, b"", os.getpid())
    assigned = model.assign(np.stack([digit.image for digit in page.digits]))
    digits = tuple(
        RecognisedDigit.assigned(
            found_digit.image, assigned, n, box=found_digit.box, touching=found_digit.touching
        )
        for n, found_digit in enumerate(page.digits)
    )
    if found == 1:
        [digit] = digits
        samples = None if digit.is_outlier else model.samples(digit.cluster)
        picture = render_reply(digit.mnist, samples, wording.lang)
    else:
        picture = _render_page(data, page, digits, wording)
    return Recognition(digits, found, model.version, picture, os.getpid())


def _render_page(
    data: bytes, page: Page, digits: tuple[RecognisedDigit, ...], wording: Wording
) -> bytes:
    """The photo upright (as the boxes are), with every digit's box and tile.

    A JPEG is decoded at a fraction of its size (draft mode), as it is shown reduced anyway.
    """
    with open_image(data) as opened:
        opened.draft("RGB", (PAGE_WIDTH, PAGE_WIDTH))
        photo = ImageOps.exif_transpose(opened)
        if "A" in photo.getbands():  # transparent paper is shown white, as it was read
            photo = Image.alpha_composite(
                Image.new("RGBA", photo.size, "white"), photo.convert("RGBA")
            )
    return render_page(photo.convert("RGB"), page.size, digits, wording)


def recognise_with(
    path: Path, version: str, data: bytes, wording: Wording | None = None
) -> Recognition:
    """`recognise` with model `version` from `path`, loaded once per worker process."""
    return recognise(model_for(path, version), data, wording)


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
