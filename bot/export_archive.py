"""The zips of a user's /export: each photo as received, each digit's 28x28 as a PNG, and
`records.csv`, a row per digit with what was recorded about it.

Pure: rows and photos' bytes in, zip bytes out; reading the database and sending to Telegram
are the caller's. The parts are planned from the rows alone (each original's size is stored), before
any photo is read, so the first message can already say "part 1 of 3" and an export too big
to send is refused without reading it. A photo is never split: each part holds whole photos,
their digits and a CSV of those rows, and is complete on its own.

Every entry is stored, not deflated: photos and PNGs are compressed already, and a stored
entry takes an exact number of bytes, so a planned part cannot pass the limit.
"""

from __future__ import annotations

import csv
import io
import mimetypes
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image
from telegram.constants import FileSizeLimit

from bot.digit import RecognisedDigit
from bot.storage.records import ExportedDigit

UPLOAD_LIMIT = int(FileSizeLimit.FILESIZE_UPLOAD)  # bytes of a file a bot may send: 50 MB
MAX_PARTS = 10  # zips one /export may send; data that needs more is refused
PNG_MAX = 1024  # bytes a 28x28 greyscale PNG can take (noise takes 880: 812 raw + headers)
# Bytes a stored zip entry takes besides its data and its name twice: local header 30,
# central directory record 46, and room for extra fields.
ENTRY_OVERHEAD = 128
PART_OVERHEAD = 1024  # end of central directory: 22 bytes, 98 past 65,535 entries
READ_BATCH_BYTES = 16 * 2**20  # originals read from the database at once while a zip is made
READ_BATCH_ROWS = 500  # rows whose originals are read at once (a batch of many small photos)
CSV_NAME = "records.csv"
COLUMNS = (
    "received_at",
    "chat_id",
    "message_id",
    "photo_file",
    "mime_type",
    "digit_file",
    "digit_index",
    "digit_count",
    "box_x0",
    "box_y0",
    "box_x1",
    "box_y1",
    "touching",
    "cluster",
    "outlier",
    "distance",
    "typicality",
    "model_version",
    "feedback_digit",
    "feedback_at",
)


class ExportTooLargeError(ValueError):
    """The data does not fit in the allowed number of zips under the size limit."""


@dataclass(frozen=True, slots=True)
class ExportPhoto:
    """One photo of an export: its number in the whole export, which names its files (so a
    file keeps its name whichever part it lands in), and its digits in reading order."""

    number: int
    digits: tuple[ExportedDigit, ...]

    @property
    def received_at(self) -> datetime:
        return self.digits[0].received_at

    @property
    def stem(self) -> str:
        return f"{self.number:05d}_{self.received_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"

    @property
    def original(self) -> ExportedDigit | None:
        """The row holding the photo's bytes: its first digit's (gone if retention took it)."""
        first = self.digits[0]
        return first if first.digit_index == 0 and first.size_bytes else None

    @property
    def original_name(self) -> str:
        first = self.digits[0]
        return f"photos/{self.stem}{mimetypes.guess_extension(first.mime_type) or '.bin'}"

    def digit_name(self, digit: ExportedDigit) -> str:
        return f"digits/{self.stem}_{digit.digit_index}.png"

    def csv_row(self, row: ExportedDigit, *, with_original: bool) -> list[object]:
        """The digit's line of records.csv, in COLUMNS' order."""
        digit = row.digit
        return [
            row.received_at.astimezone(UTC).isoformat(),
            row.chat_id,
            row.message_id,
            self.original_name if with_original else None,
            row.mime_type,
            self.digit_name(row),
            row.digit_index,
            row.digit_count,
            *(digit.box or (None, None, None, None)),
            digit.touching,
            digit.cluster,
            digit.is_outlier,
            digit.distance,
            digit.typicality,
            row.model_version,
            row.feedback_digit,
            row.feedback_at.astimezone(UTC).isoformat() if row.feedback_at else None,
        ]

    def size_bound(self) -> int:
        """The most bytes this photo can add to a zip: its files, entries and CSV lines."""
        size = sum(_csv_bytes(self.csv_row(d, with_original=True)) for d in self.digits)
        size += sum(_entry_bytes(self.digit_name(d), PNG_MAX) for d in self.digits)
        if self.original is not None:
            size += _entry_bytes(self.original_name, self.original.size_bytes)
        return size


@dataclass(frozen=True, slots=True)
class ExportPart:
    """One zip of an export: part `number` of `count`, its photos in order."""

    number: int
    count: int
    photos: tuple[ExportPhoto, ...]

    @property
    def file_name(self) -> str:
        if self.count == 1:
            return "digit-cluster-bot-data.zip"
        return f"digit-cluster-bot-data-part-{self.number}-of-{self.count}.zip"

    @property
    def digit_count(self) -> int:
        return sum(len(photo.digits) for photo in self.photos)

    def batches(
        self, max_bytes: int = READ_BATCH_BYTES, max_rows: int = READ_BATCH_ROWS
    ) -> list[tuple[ExportPhoto, ...]]:
        """The part's photos in runs whose originals and rows stay within the bounds (a photo
        alone may pass them), so that their originals are read from the database together."""
        batches: list[tuple[ExportPhoto, ...]] = []
        batch: list[ExportPhoto] = []
        size = rows = 0
        for photo in self.photos:
            original = photo.original.size_bytes if photo.original else 0
            if batch and (size + original > max_bytes or rows + len(photo.digits) > max_rows):
                batches.append(tuple(batch))
                batch, size, rows = [], 0, 0
            batch.append(photo)
            size += original
            rows += len(photo.digits)
        if batch:
            batches.append(tuple(batch))
        return batches


def group_photos(digits: Iterable[ExportedDigit]) -> list[ExportPhoto]:
    """The rows as photos (one per chat and message), numbered in the order they came."""
    photos: dict[tuple[int, int], list[ExportedDigit]] = {}
    for digit in digits:
        photos.setdefault((digit.chat_id, digit.message_id), []).append(digit)
    return [
        ExportPhoto(number, tuple(sorted(rows, key=lambda d: d.digit_index)))
        for number, rows in enumerate(photos.values(), start=1)
    ]


def plan_parts(
    digits: Sequence[ExportedDigit], limit: int = UPLOAD_LIMIT, max_parts: int = MAX_PARTS
) -> list[ExportPart]:
    """Whole photos in order, as few zips as fit under `limit` bytes each.

    Raises ExportTooLargeError when a photo alone does not fit, or more than `max_parts`
    zips would be needed.
    """
    fixed = PART_OVERHEAD + _entry_bytes(CSV_NAME, _csv_bytes(COLUMNS))
    groups: list[list[ExportPhoto]] = []
    size = 0
    for photo in group_photos(digits):
        bound = photo.size_bound()
        if fixed + bound > limit:
            raise ExportTooLargeError(f"photo {photo.number} alone needs {fixed + bound} bytes")
        if not groups or size + bound > limit:
            groups.append([])
            size = fixed
        groups[-1].append(photo)
        size += bound
    if len(groups) > max_parts:
        raise ExportTooLargeError(f"{len(groups)} zips needed, at most {max_parts} sent")
    return [
        ExportPart(number, len(groups), tuple(photos))
        for number, photos in enumerate(groups, start=1)
    ]


class PartWriter:
    """One zip being made, a batch of photos at a time, records.csv last (`finish`).

    A row missing from the originals read (erased since the export was planned) is left out,
    file and CSV line both; the zip only shrinks by it.
    """

    def __init__(self, made_at: datetime) -> None:
        self._made_at = made_at  # records.csv's time in the zip
        self._buffer = io.BytesIO()
        self._zip = zipfile.ZipFile(self._buffer, "w", zipfile.ZIP_STORED)
        self._rows: list[list[object]] = []

    def add(self, photos: Iterable[ExportPhoto], originals: Mapping[int, bytes]) -> None:
        """Write the photos' files; `originals` holds the bytes read for their rows, by id."""
        for photo in photos:
            first = photo.original
            original = originals.get(first.id) if first is not None else None
            if original is not None:
                self._write(photo.original_name, photo.received_at, original)
            for row in photo.digits:
                if row.id in originals:
                    self._write(photo.digit_name(row), row.received_at, _png(row.digit))
                    self._rows.append(photo.csv_row(row, with_original=original is not None))

    def finish(self) -> bytes:
        """The zip's bytes, records.csv written last."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(self._rows)
        self._write(CSV_NAME, self._made_at, text.getvalue().encode())
        self._zip.close()
        return self._buffer.getvalue()

    def _write(self, name: str, when: datetime, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=when.astimezone(UTC).timetuple()[:6])
        info.external_attr = 0o644 << 16  # a plain file, readable once unpacked
        self._zip.writestr(info, data)


def _png(digit: RecognisedDigit) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(digit.mnist).save(buffer, format="PNG")
    return buffer.getvalue()


def _entry_bytes(name: str, size: int) -> int:
    return size + ENTRY_OVERHEAD + 2 * len(name.encode())


def _csv_bytes(row: Sequence[object]) -> int:
    text = io.StringIO()
    csv.writer(text).writerow(row)
    return len(text.getvalue().encode())
