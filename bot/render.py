"""The pictures the bot sends: what it saw beside its cluster's samples, a photo of several
digits with a numbered box and a tile for each, a cluster's samples alone, or every cluster."""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from bot import texts
from bot.digit import MNIST_SHAPE, RecognisedDigit
from model import MNIST_SIDE
from model.serving.montage import grid_image

SEEN_SCALE = 16  # the 28x28 at 448x448, as tall as the 4x4 grid of samples at 4x
SAMPLE_SCALE = 4  # a cluster's samples enlarged 4x
# Multiples of 8, so JPEG's 8x8 blocks fall inside the enlarged pixels of what the bot saw:
# that panel comes through encoding essentially unchanged.
GAP = 16  # pixels between panels and around the edges
LABEL_HEIGHT = 24  # a line of words above or below a panel
BACKGROUND = 40  # the same grey as model.serving.montage's grids
GRID_COLUMNS = 4  # a reply's samples in a 4x4 grid
MAX_SAMPLES = 16  # samples shown beside what the bot saw
# Telegram re-encodes every photo it receives as JPEG, so a PNG buys nothing on the user's
# screen; at this quality the enlarged pixels stay crisp.
JPEG_QUALITY = 90
BACKGROUNDS_KEPT = 64  # replies drawn but for the photo's panel, kept: a few models' clusters
# A several-digit reply: the photo at most this big, then a row of tiles per TILE_COLUMNS digits.
PAGE_WIDTH, PHOTO_HEIGHT = 896, 560
TILE_SCALE = 3  # a page's digits enlarged 3x
TILE_COLUMNS = 8  # a page's tiles in a row
TILE_WIDTH = PAGE_WIDTH // TILE_COLUMNS  # 112: the 84-pixel digit and room for its words
TILE_HEIGHT = MNIST_SIDE * TILE_SCALE + 3 * LABEL_HEIGHT  # the digit, its number and words
# /clusters: a row per cluster, legible on a phone 1080 px wide.
SHEET_WIDTH = 1080
MEMBERS_SHOWN = 8  # typical members shown in a cluster's row
MEMBER_SCALE = 3  # and enlarged 3x
LABEL_COLUMN = SHEET_WIDTH - 3 * GAP - MEMBERS_SHOWN * (MNIST_SIDE * MEMBER_SCALE + 4) + 4
SHEET_ROW = MNIST_SIDE * MEMBER_SCALE + 2 * GAP + 8  # a cluster's row
SHEET_TOP = GAP + 48  # below the heading
BOX_COLOUR = (255, 160, 0)  # a page's boxes and the digits' numbers
BOX_LINE = 3  # a box's line width
FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"  # the words' typeface


@dataclass(frozen=True)
class Wording:
    """How a reply says things: in the user's language, calling clusters by the admins' names."""

    lang: str = "en"
    names: Mapping[int, str] = field(default_factory=dict)


class ClusterRow(NamedTuple):
    """One cluster of the /clusters picture: its words (already in the user's language) and
    its typical members."""

    cluster: int
    title: str  # the admin's name, or what users say it is; "" for neither
    size: str
    members: NDArray[np.uint8]


class PageLayout(NamedTuple):
    """Where a several-digit reply puts things, in its pixels (tests read the picture by it)."""

    size: tuple[int, int]
    scale: float  # photo pixels to reply pixels
    photo_at: tuple[int, int]
    tiles_at: list[tuple[int, int]]  # each digit's 28x28, enlarged TILE_SCALE times


def render_reply(
    seen: NDArray[np.uint8], samples: NDArray[np.uint8] | None, lang: str = "en"
) -> bytes:
    """JPEG of the enlarged 28x28 the bot saw, beside a grid of the cluster's samples if given."""
    if seen.shape != MNIST_SHAPE:
        raise ValueError(f"expected a 28x28 image, got shape {seen.shape}")
    shown = (
        np.ascontiguousarray(samples[:MAX_SAMPLES], dtype=np.uint8)
        if samples is not None and len(samples)
        else np.zeros((0, *MNIST_SHAPE), np.uint8)
    )
    # Everything but the photo's own panel is the same for every photo of a cluster.
    canvas = _background(shown.tobytes(), lang).copy()
    canvas.paste(_enlarge(seen, SEEN_SCALE), (GAP, GAP + LABEL_HEIGHT))
    return _jpeg(canvas)


def render_samples(samples: NDArray[np.uint8], columns: int = 8) -> bytes:
    """JPEG grid of a cluster's representative samples, for /cluster."""
    return _jpeg(grid_image(samples[: columns * 4], columns=columns, scale=SAMPLE_SCALE, gap=1))


def render_clusters(heading: str, rows: Sequence[ClusterRow], lang: str = "en") -> bytes:
    """JPEG of every cluster, a row each: its number, title and size, then its typical members."""
    fonts = [ImageFont.truetype(FONT, size) for size in (34, 28, 24)]
    canvas = Image.new(
        "RGB", (SHEET_WIDTH, SHEET_TOP + len(rows) * SHEET_ROW + GAP), (BACKGROUND,) * 3
    )
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (GAP, GAP),
        _fit(draw, heading, fonts[0], SHEET_WIDTH - 2 * GAP),
        fill=(240,) * 3,
        font=fonts[0],
    )
    for n, row in enumerate(rows):
        y = SHEET_TOP + n * SHEET_ROW
        draw.line((GAP, y, SHEET_WIDTH - GAP, y), fill=(90,) * 3, width=1)
        words = [texts.cluster_label(lang, row.cluster, {}), row.title, row.size]
        colours = [BOX_COLOUR, (240,) * 3, (190,) * 3]
        line_y = y + GAP
        for text, font, colour in zip(words, fonts, colours, strict=True):
            if text:
                draw.text(
                    (GAP, line_y), _fit(draw, text, font, LABEL_COLUMN), fill=colour, font=font
                )
            line_y += round(font.size) + 6
        left = GAP + LABEL_COLUMN + GAP
        for member in row.members[:MEMBERS_SHOWN]:
            canvas.paste(_enlarge(member, MEMBER_SCALE).convert("RGB"), (left, y + GAP + 4))
            left += MNIST_SIDE * MEMBER_SCALE + 4
    return _jpeg(canvas)


@functools.lru_cache(maxsize=BACKGROUNDS_KEPT)
def _background(samples: bytes, lang: str) -> Image.Image:
    """The reply with labels and the samples' grid drawn and the seen panel left empty."""
    stack = np.frombuffer(samples, np.uint8).reshape(-1, *MNIST_SHAPE)
    seen_panel = Image.new("L", (MNIST_SIDE * SEEN_SCALE,) * 2, BACKGROUND)
    panels = [(texts.say(lang, texts.WHAT_I_SAW), seen_panel)]
    if len(stack):
        grid = grid_image(stack, columns=GRID_COLUMNS, scale=SAMPLE_SCALE, gap=1)
        panels.append((texts.say(lang, texts.ITS_CLUSTER), grid))
    height = max(panel.height for _, panel in panels) + LABEL_HEIGHT + 2 * GAP
    width = sum(panel.width for _, panel in panels) + GAP * (len(panels) + 1)
    canvas = Image.new("L", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=16)
    left = GAP
    for label, panel in panels:
        draw.text((left, GAP // 2), label, fill=220, font=font)
        canvas.paste(panel, (left, GAP + LABEL_HEIGHT))
        left += panel.width + GAP
    return canvas


def page_layout(photo_size: tuple[int, int], count: int) -> PageLayout:
    """The photo reduced to fit PAGE_WIDTH x PHOTO_HEIGHT, then `count` tiles in rows below."""
    width, height = photo_size
    scale = min(1.0, (PAGE_WIDTH - 2 * GAP) / width, PHOTO_HEIGHT / height)
    photo_height = max(1, round(height * scale))
    top = GAP + photo_height + GAP + LABEL_HEIGHT
    tiles_at = [
        (
            GAP + (n % TILE_COLUMNS) * TILE_WIDTH,
            top + (n // TILE_COLUMNS) * TILE_HEIGHT + LABEL_HEIGHT,
        )
        for n in range(count)
    ]
    rows = -(-count // TILE_COLUMNS)
    return PageLayout(
        (PAGE_WIDTH + 2 * GAP, top + rows * TILE_HEIGHT + GAP), scale, (GAP, GAP), tiles_at
    )


def render_page(
    photo: Image.Image,
    size: tuple[int, int],
    digits: Sequence[RecognisedDigit],
    wording: Wording,
) -> bytes:
    """JPEG of the photo, reduced, with a numbered box around each digit, and under it each
    digit as the bot saw it with its number, its cluster ("?" for an outlier) and the cluster's
    name if it has one.

    `size` is the photo's size in the digits' boxes' pixels; `photo` may be a reduced copy.
    """
    lang = wording.lang
    layout = page_layout(size, len(digits))
    canvas = Image.new("RGB", layout.size, (BACKGROUND,) * 3)
    shown = photo.convert("RGB").resize(
        (max(1, round(size[0] * layout.scale)), max(1, round(size[1] * layout.scale))),
        Image.Resampling.BOX,  # area averaging: as good as bilinear for reducing, faster
    )
    canvas.paste(shown, layout.photo_at)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.truetype(FONT, 15)
    x0, y0 = layout.photo_at
    for number, digit in enumerate(digits, start=1):
        assert digit.box is not None  # every digit of a page was found with its box
        left, top, right, bottom = (round(v * layout.scale) for v in digit.box)
        outline = (x0 + left, y0 + top, x0 + max(right, left + 1), y0 + max(bottom, top + 1))
        draw.rectangle(outline, outline=BOX_COLOUR, width=BOX_LINE)
        label = (outline[0], max(y0, outline[1] - LABEL_HEIGHT))
        draw.rectangle(draw.textbbox(label, str(number), font=font), fill=BOX_COLOUR)
        draw.text(label, str(number), fill=(0, 0, 0), font=font)
    words = texts.say(lang, texts.WHAT_I_SAW)
    draw.text((GAP, layout.tiles_at[0][1] - 2 * LABEL_HEIGHT), words, fill=(220,) * 3, font=font)
    tiles = zip(digits, layout.tiles_at, strict=True)
    for number, (digit, (left, top)) in enumerate(tiles, start=1):
        draw.text((left, top - LABEL_HEIGHT), str(number), fill=BOX_COLOUR, font=font)
        canvas.paste(_enlarge(digit.mnist, TILE_SCALE).convert("RGB"), (left, top))
        below = top + MNIST_SIDE * TILE_SCALE + 2
        cluster = "?" if digit.is_outlier else texts.cluster_label(lang, digit.cluster, {})
        draw.text((left, below), cluster, fill=(220,) * 3, font=font)
        name = wording.names.get(digit.cluster)
        if name and not digit.is_outlier:
            draw.text(
                (left, below + LABEL_HEIGHT - 4), _fit(draw, name, font), fill=(220,) * 3, font=font
            )
    return _jpeg(canvas)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int = TILE_WIDTH - 8
) -> str:
    """`text` cut short with an ellipsis so that it fits in `width` pixels (a tile's)."""
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def _enlarge(image: NDArray[np.uint8], scale: int) -> Image.Image:
    """Each pixel of a 28x28 as a `scale` x `scale` square: what Pillow's nearest-neighbour
    resizing by a whole factor gives, at a third of its cost."""
    pixels = np.asarray(image, dtype=np.uint8)
    return Image.fromarray(pixels.repeat(scale, axis=0).repeat(scale, axis=1), mode="L")


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
