"""The admins' pictures: /stats (photos per cluster and day, the live feedback matrix) and the
model sheet sent when a retraining ends (MNIST-test confusion matrix, typical members).

Drawn with Pillow 1080 px wide, a phone screen's width, so that Telegram shows them unscaled,
with no text under 22 px; at most 1280 px tall, Telegram's largest photo side. Blocking:
call them from the model thread pool.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from bot import texts
from bot.i18n import day, number, percent
from bot.render import FONT
from bot.storage.activity import Activity
from model.mnist import MnistError, load_mnist
from model.serving.modelfile import DigitModel

log = logging.getLogger(__name__)

WIDTH = 1080  # a phone screen's width: shown unscaled
MAX_HEIGHT = 1280  # Telegram's largest photo side
MARGIN = 24  # pixels around the edges
SMALL, BODY, TITLE = 22, 26, 34  # font sizes in px
INK, FAINT, PAPER = (30, 30, 30), (200, 200, 200), (255, 255, 255)
# A colour per cluster (Tableau's ten), grey for outliers.
COLOURS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip
OUTLIER_COLOUR = (190, 190, 190)  # the outliers' bars
CHART_HEIGHT = 300  # the photos-per-day chart
SAMPLES_SHOWN = 16  # typical members of a cluster on the model sheet
SAMPLE_PX = 42  # each drawn 1.5 x MNIST's 28
SAMPLE_COLUMNS = 8  # in rows of 8


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, size)


def stats_picture(
    lang: str, activity: Activity, k: int, cluster_to_digit: Mapping[int, int]
) -> bytes:
    """PNG: photos per day stacked by cluster, then the feedback matrix (cluster × digit said).

    The matrix outlines the digit the serving model maps each cluster to.
    """
    share = activity.accuracy.share
    height = 2 * MARGIN + 50 + 44 + CHART_HEIGHT + 104 + 44 + 64 + k * _row_height(k)
    canvas = Image.new("RGB", (WIDTH, min(height, MAX_HEIGHT)), PAPER)
    draw = ImageDraw.Draw(canvas)
    y = MARGIN
    draw.text((MARGIN, y), texts.live_accuracy_title(lang, share, activity.accuracy.feedback),
              font=_font(TITLE), fill=INK)  # fmt: skip
    y += 50
    title = texts.say(lang, texts.PHOTOS_PER_DAY, days=number(lang, len(activity.days)))
    draw.text((MARGIN, y), title, font=_font(BODY), fill=INK)
    y += 44
    y = _day_chart(draw, lang, activity, k, y)
    draw.text((MARGIN, y), texts.say(lang, texts.FEEDBACK_MATRIX), font=_font(BODY), fill=INK)
    y += 44
    table = np.zeros((k, 10), dtype=np.int64)
    for (cluster, digit), count in activity.feedback.items():
        if 0 <= cluster < k:
            table[cluster, digit] += count
    _matrix(draw, lang, table, y, texts.say(lang, texts.DIGIT_SAID), cluster_to_digit)
    return _png(canvas)


def model_sheet(lang: str, model: DigitModel, mnist_dir: Path | None) -> bytes:
    """PNG: each cluster's 16 most typical members beside where MNIST's test digits went."""
    confusion = mnist_confusion(model, mnist_dir) if mnist_dir is not None else None
    samples = np.stack([model.samples(c)[:SAMPLES_SHOWN] for c in range(model.k)])
    return _png(draw_model_sheet(lang, model.version, samples, confusion, cluster_digits(model)))


def mnist_confusion(model: DigitModel, mnist_dir: Path) -> NDArray[np.int64] | None:
    """(k, 10) counts of MNIST's test digits per cluster and true digit; None without MNIST."""
    try:
        mnist = load_mnist(mnist_dir)
    except (MnistError, OSError) as exc:
        log.warning("model sheet without a confusion matrix: %s", exc)
        return None
    clusters = model.assign(mnist.test_images).clusters.astype(np.int64)
    flat = clusters * 10 + mnist.test_labels.astype(np.int64)
    return np.bincount(flat, minlength=model.k * 10).reshape(model.k, 10)


def cluster_digits(model: DigitModel) -> dict[int, int]:
    """The digit the model maps each cluster to (matched on MNIST when it was trained)."""
    return {int(c): int(d) for c, d in model.metadata.get("cluster_to_digit", {}).items()}


def draw_model_sheet(
    lang: str,
    version: str,
    samples: NDArray[np.uint8],
    confusion: NDArray[np.int64] | None,
    cluster_to_digit: Mapping[int, int],
) -> Image.Image:
    """The sheet from its parts: `samples` (k, 16, 28, 28) uint8, `confusion` (k, 10) or None."""
    k = len(samples)
    strip_rows = -(-SAMPLES_SHOWN // SAMPLE_COLUMNS)
    row = strip_rows * SAMPLE_PX + 8
    left = MARGIN + 56
    matrix_left = left + SAMPLE_COLUMNS * SAMPLE_PX + 24
    height = 2 * MARGIN + 50 + 44 + 64 + k * row
    canvas = Image.new("RGB", (WIDTH, min(height, MAX_HEIGHT)), PAPER)
    draw = ImageDraw.Draw(canvas)
    if confusion is not None and confusion.sum():
        matched = sum(int(confusion[c, d]) for c, d in cluster_to_digit.items() if c < k)
        subtitle = texts.model_sheet_title(lang, matched / int(confusion.sum()))
    else:
        subtitle = texts.say(lang, texts.NO_TEST_SPLIT)
    draw.text((MARGIN, MARGIN), texts.say(lang, texts.MODEL, version=version), font=_font(TITLE),
              fill=INK)  # fmt: skip
    draw.text((MARGIN, MARGIN + 50), subtitle, font=_font(BODY), fill=INK)
    y = MARGIN + 94
    draw.text((left, y), texts.say(lang, texts.TYPICAL_MEMBERS), font=_font(SMALL), fill=INK)
    cell = (WIDTH - MARGIN - matrix_left) // 10
    if confusion is not None:
        draw.text((matrix_left, y), texts.say(lang, texts.TRUE_DIGIT), font=_font(SMALL),
                  fill=INK)  # fmt: skip
        _digit_header(draw, matrix_left, cell, y)
    y += 64
    for cluster in range(k):
        top = y + cluster * row
        _centred(draw, (MARGIN, top, left - 8, top + row), str(cluster), _font(BODY))
        for i, image in enumerate(samples[cluster]):
            tile = Image.fromarray(255 - image).resize((SAMPLE_PX, SAMPLE_PX))
            column, line = i % SAMPLE_COLUMNS, i // SAMPLE_COLUMNS
            canvas.paste(tile, (left + column * SAMPLE_PX, top + line * SAMPLE_PX))
        if confusion is None:
            continue
        total = max(1, int(confusion[cluster].sum()))
        for digit in range(10):
            box = (matrix_left + digit * cell, top, matrix_left + (digit + 1) * cell, top + row - 8)
            count = int(confusion[cluster, digit])
            _cell(draw, box, count / total, number(lang, count) if count else "", None)
            if cluster_to_digit.get(cluster) == digit:
                draw.rectangle(box, outline=INK, width=3)
    return canvas


def _day_chart(draw: ImageDraw.ImageDraw, lang: str, activity: Activity, k: int, y: int) -> int:
    """Stacked bars, one per day; returns the y below the chart, its date labels and legend."""
    bottom = y + CHART_HEIGHT
    totals = [
        sum(activity.photos.get((when, c), 0) for c in range(k)) + activity.outliers.get(when, 0)
        for when in activity.days
    ]
    peak = max(1, *totals)
    scale = (CHART_HEIGHT - 10) / peak
    ticks = sorted({0, peak // 2, peak})
    widest = max(draw.textlength(number(lang, tick), font=_font(SMALL)) for tick in ticks)
    left, right = MARGIN + round(widest) + 8, WIDTH - MARGIN
    for tick in ticks:
        level = bottom - round(tick * scale)
        draw.line((left, level, right, level), fill=FAINT)
        label = number(lang, tick)
        width = draw.textlength(label, font=_font(SMALL))
        draw.text((left - 8 - width, level - SMALL // 2 - 2), label, font=_font(SMALL), fill=INK)
    slot = (right - left) / max(1, len(activity.days))
    for index, when in enumerate(activity.days):
        x0 = left + index * slot + slot * 0.1
        x1 = left + (index + 1) * slot - slot * 0.1
        top = float(bottom)
        stack = [(activity.photos.get((when, c), 0), COLOURS[c % 10]) for c in range(k)]
        for count, colour in [*stack, (activity.outliers.get(when, 0), OUTLIER_COLOUR)]:
            if count:
                draw.rectangle((x0, top - count * scale, x1, top), fill=colour)
                top -= count * scale
        if index % 7 == len(activity.days) % 7 - 1 or index == len(activity.days) - 1:
            label = day(lang, when)
            width = draw.textlength(label, font=_font(SMALL))
            centre = (x0 + x1) / 2
            draw.text((min(centre - width / 2, right - width), bottom + 6), label,
                      font=_font(SMALL), fill=INK)  # fmt: skip
    draw.line((left, bottom, right, bottom), fill=INK, width=2)
    y = bottom + 40
    x = float(left)
    legend = [(str(c), COLOURS[c % 10]) for c in range(k)]
    for label, colour in [*legend, (texts.say(lang, texts.OUTLIERS), OUTLIER_COLOUR)]:
        draw.rectangle((x, y + 3, x + SMALL, y + 3 + SMALL), fill=colour)
        draw.text((x + SMALL + 6, y), label, font=_font(SMALL), fill=INK)
        x += SMALL + 6 + draw.textlength(label, font=_font(SMALL)) + 18
    return y + 64


def _matrix(
    draw: ImageDraw.ImageDraw,
    lang: str,
    table: NDArray[np.int64],
    y: int,
    columns_title: str,
    cluster_to_digit: Mapping[int, int],
) -> None:
    """Counts and row shares of a (k, 10) table, digits across, clusters down."""
    k = len(table)
    left = MARGIN + 110
    cell_w, cell_h = (WIDTH - MARGIN - left) // 10, _row_height(k)
    draw.text((MARGIN, y + 30), texts.say(lang, texts.CLUSTER), font=_font(SMALL), fill=INK)
    draw.text((left, y), columns_title, font=_font(SMALL), fill=INK)
    _digit_header(draw, left, cell_w, y)
    y += 64
    for cluster in range(k):
        top = y + cluster * cell_h
        _centred(draw, (MARGIN, top, left - 8, top + cell_h), str(cluster), _font(BODY))
        total = int(table[cluster].sum())
        for digit in range(10):
            box = (left + digit * cell_w, top, left + (digit + 1) * cell_w, top + cell_h)
            count = int(table[cluster, digit])
            share = count / total if total else 0.0
            below = percent(lang, share) if count else None
            _cell(draw, box, share, number(lang, count) if count else "", below)
            if cluster_to_digit.get(cluster) == digit:
                draw.rectangle(box, outline=INK, width=3)


def _cell(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    share: float,
    text: str,
    below: str | None,
) -> None:
    """A cell shaded by `share` (white to deep blue), `text` above and `below` under it."""
    shade = (int(255 - 215 * share), int(255 - 160 * share), 255)
    draw.rectangle(box, fill=shade, outline=PAPER, width=2)
    colour = PAPER if share > 0.55 else INK
    x0, y0, x1, y1 = box
    if below is None:
        _centred(draw, box, text, _font(SMALL), colour)
        return
    middle = (y0 + y1) / 2
    _centred(draw, (x0, y0 + 2, x1, middle + 2), text, _font(SMALL), colour)
    _centred(draw, (x0, middle, x1, y1 - 2), below, _font(SMALL), colour)


def _digit_header(draw: ImageDraw.ImageDraw, left: int, cell: int, y: int) -> None:
    """The digits 0-9 over a table's ten columns of `cell` pixels from `left`."""
    for digit in range(10):
        x = left + digit * cell
        _centred(draw, (x, y + 30, x + cell, y + 58), str(digit), _font(SMALL))


def _centred(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int] = INK,
) -> None:
    x0, y0, x1, y1 = box
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, font=font, fill=fill, anchor="mm")


def _row_height(k: int) -> int:
    """Rows of the feedback matrix: 58 px for ten clusters, less for more (within 1280 px)."""
    return max(30, min(58, 580 // max(1, k)))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
