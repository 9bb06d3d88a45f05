"""The admins' pictures: one phone-width photo each, nothing cut off, words in their language."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from bot import admin_pictures, texts
from bot.admin_pictures import (
    FONT,
    MARGIN,
    MAX_HEIGHT,
    WIDTH,
    cluster_digits,
    mnist_confusion,
    model_sheet,
    stats_picture,
)
from bot.storage import Accuracy
from bot.storage.activity import Activity
from model.serving.modelfile import load_model

DAYS = [date(2026, 11, 2) + timedelta(days=n) for n in range(30)]


def _busy_month() -> Activity:
    """Big numbers everywhere: the widest labels the layout has to hold."""
    rng = np.random.default_rng(0)
    photos = {(day, c): int(rng.integers(0, 3000)) for day in DAYS for c in range(10)}
    feedback = {(c, d): int(rng.integers(0, 99_999)) for c in range(10) for d in range(10)}
    return Activity(
        days=DAYS,
        photos=photos,
        outliers={day: 500 for day in DAYS},
        feedback=feedback,
        accuracy=Accuracy(feedback=sum(feedback.values()), matching=123_456),
    )


def _ink(picture: bytes) -> np.ndarray:
    """True where a pixel is not the white paper."""
    image = np.asarray(Image.open(io.BytesIO(picture)).convert("L"))
    return image < 250


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_stats_picture_is_one_phone_width_photo_with_nothing_cut_off(lang: str) -> None:
    picture = stats_picture(lang, _busy_month(), 10, {c: c for c in range(10)})

    ink = _ink(picture)
    height, width = ink.shape
    assert width == WIDTH
    assert height <= MAX_HEIGHT
    # Nothing runs into the margins, where a label too long for its place would end up.
    assert not ink[:, : MARGIN // 2].any()
    assert not ink[:, WIDTH - MARGIN // 2 :].any()
    assert not ink[height - MARGIN // 2 :].any()
    # The title (live accuracy) is big enough to read on a phone held upright.
    rows = np.flatnonzero(ink[MARGIN : MARGIN + 50].any(axis=1))
    assert rows.max() - rows.min() >= 24


def test_stats_picture_shows_the_feedback() -> None:
    quiet = Activity(DAYS, {}, {}, {}, Accuracy(0, 0))
    said = Activity(DAYS, {}, {}, {(3, 5): 4}, Accuracy(4, 0))

    without, with_feedback = (
        _ink(stats_picture("en", activity, 10, {3: 3})) for activity in (quiet, said)
    )

    changed = np.flatnonzero((without != with_feedback).any(axis=1))
    # The title's accuracy and one cell of the matrix, well below the chart.
    assert changed.min() < MARGIN + 50
    assert len(changed[changed > 600]) > 20


def test_the_font_has_every_letter_the_french_pictures_use() -> None:
    font = ImageFont.truetype(FONT, 22)
    missing = bytes(font.getmask("\U0010fffd"))
    words = [
        texts.say("fr", message)
        for message in (texts.PHOTOS_PER_DAY, texts.OUTLIERS, texts.FEEDBACK_MATRIX, texts.CLUSTER)
    ]
    words += [texts.live_accuracy_title("fr", 0.5, 2), texts.model_sheet_title("fr", 0.98)]
    letters = {char for word in words for char in word if not char.isspace()}
    assert {"é", "×"} <= letters
    assert [char for char in sorted(letters) if bytes(font.getmask(char)) == missing] == []


def test_the_model_sheet_counts_mnists_test_split(model_path: Path, mnist_dir: Path) -> None:
    model = load_model(model_path)

    confusion = mnist_confusion(model, mnist_dir)

    assert confusion is not None
    assert confusion.shape == (model.k, 10)
    assert confusion.sum() == 10_000
    matched = sum(confusion[c, d] for c, d in cluster_digits(model).items())
    assert matched / 10_000 == pytest.approx(model.metadata["metrics"]["acc"], abs=0.002)


def test_the_model_sheet_is_one_phone_width_photo(
    model_path: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    model = load_model(model_path)

    sheets = [model_sheet("fr", model, mnist_dir), model_sheet("fr", model, tmp_path)]

    for sheet in sheets:
        ink = _ink(sheet)
        assert ink.shape[1] == WIDTH
        assert ink.shape[0] <= MAX_HEIGHT
        assert not ink[:, WIDTH - MARGIN // 2 :].any()
    with_matrix, without_matrix = (_ink(sheet) for sheet in sheets)
    # Without MNIST the right half (the matrix) stays empty; the typical members are there.
    assert with_matrix[:, WIDTH // 2 :].sum() > 10 * without_matrix[:, WIDTH // 2 :].sum()
    assert without_matrix[:, : WIDTH // 2].sum() > 0
    assert admin_pictures.SAMPLES_SHOWN == 16
