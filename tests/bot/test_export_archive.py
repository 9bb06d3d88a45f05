"""The /export zips, made from rows and originals alone: their files, records.csv, the split."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from bot import texts
from bot.digit import RecognisedDigit
from bot.export_archive import (
    COLUMNS,
    CSV_NAME,
    MAX_PARTS,
    PNG_MAX,
    UPLOAD_LIMIT,
    ExportPart,
    ExportTooLargeError,
    PartWriter,
    plan_parts,
)
from bot.storage import ExportedDigit

T0 = datetime(2026, 12, 7, 8, 30, 15, 250000, tzinfo=UTC)
MADE = T0 + timedelta(days=1)


class Photos:
    """Rows and originals of photos as the store keeps them: the bytes in a photo's first
    digit's row, b"" in the others; ids in the order they came."""

    def __init__(self) -> None:
        self.rows: list[ExportedDigit] = []
        self.originals: dict[int, bytes] = {}

    def add(self, size: int, digits: int = 1, *, mime_type: str = "image/jpeg") -> bytes:
        message_id = 100 + len({row.message_id for row in self.rows})
        rng = np.random.default_rng(message_id)
        original = rng.bytes(size)
        for index in range(digits):
            row = ExportedDigit(
                id=len(self.rows) + 1,
                chat_id=7,
                message_id=message_id,
                received_at=T0 + timedelta(minutes=message_id),
                mime_type=mime_type,
                size_bytes=size if index == 0 else 0,
                digit=RecognisedDigit(
                    mnist=rng.integers(0, 256, size=(28, 28), dtype=np.uint8),
                    cluster=index,
                    distance=1.5 + index,
                    typicality=0.25,
                    is_outlier=False,
                    box=(10 * index, 5, 10 * index + 8, 20) if digits > 1 else None,
                ),
                model_version="20261207T080215Z-741c98",
                feedback_digit=index if index % 2 else None,
                feedback_at=T0 if index % 2 else None,
                digit_index=index,
                digit_count=digits,
            )
            self.rows.append(row)
            self.originals[row.id] = original if index == 0 else b""
        return original


def _zip(part: ExportPart, originals: dict[int, bytes]) -> bytes:
    """The part made as the handler makes it: a batch of photos at a time."""
    writer = PartWriter(MADE)
    for batch in part.batches():
        ids = {digit.id for photo in batch for digit in photo.digits}
        writer.add(batch, {i: data for i, data in originals.items() if i in ids})
    return writer.finish()


def _records(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(CSV_NAME).decode())))


def test_each_photo_once_each_digit_as_its_28x28_and_a_record_per_digit() -> None:
    photos = Photos()
    single = photos.add(3000)
    page = photos.add(5000, digits=3, mime_type="image/png")

    [part] = plan_parts(photos.rows)
    archive = zipfile.ZipFile(io.BytesIO(_zip(part, photos.originals)))

    assert (part.number, part.count, part.file_name) == (1, 1, "digit-cluster-bot-data.zip")
    assert archive.namelist() == [
        "photos/00001_20261207T101015Z.jpg",
        "digits/00001_20261207T101015Z_0.png",
        "photos/00002_20261207T101115Z.png",
        "digits/00002_20261207T101115Z_0.png",
        "digits/00002_20261207T101115Z_1.png",
        "digits/00002_20261207T101115Z_2.png",
        CSV_NAME,
    ]
    assert archive.read("photos/00001_20261207T101015Z.jpg") == single
    assert archive.read("photos/00002_20261207T101115Z.png") == page
    records = _records(archive)
    assert list(records[0]) == list(COLUMNS)
    for row, record in zip(photos.rows, records, strict=True):
        png = Image.open(io.BytesIO(archive.read(record["digit_file"])))
        np.testing.assert_array_equal(np.asarray(png), row.digit.mnist)
        assert record["received_at"] == row.received_at.isoformat()
        assert (record["chat_id"], record["message_id"]) == ("7", str(row.message_id))
        assert (record["cluster"], record["model_version"]) == (
            str(row.digit.cluster),
            row.model_version,
        )
        assert float(record["distance"]) == row.digit.distance
        assert float(record["typicality"]) == row.digit.typicality
        assert record["feedback_digit"] == ("" if row.feedback_digit is None else "1")
        assert (record["digit_index"], record["digit_count"]) == (
            str(row.digit_index),
            str(row.digit_count),
        )
    assert [r["photo_file"] for r in records] == [
        "photos/00001_20261207T101015Z.jpg",
        *["photos/00002_20261207T101115Z.png"] * 3,
    ]
    assert [r["box_x0"] for r in records] == ["", "0", "10", "20"]
    assert records[2]["feedback_at"] == T0.isoformat()


def test_over_the_limit_whole_photos_go_in_parts_each_complete_and_under_it() -> None:
    limit = 150_000
    photos = Photos()
    for n in range(12):
        photos.add(40_000 + 1000 * n, digits=1 + n % 3)

    parts = plan_parts(photos.rows, limit=limit)
    made = [_zip(part, photos.originals) for part in parts]

    total = sum(row.size_bytes for row in photos.rows)
    assert len(parts) == 5 > total / limit
    assert [(p.number, p.count) for p in parts] == [(n, 5) for n in range(1, 6)]
    assert parts[2].file_name == "digit-cluster-bot-data-part-3-of-5.zip"
    assert all(limit * 0.5 < len(data) <= limit for data in made[:-1])
    assert len(made[-1]) <= limit
    seen: list[str] = []
    for part, data in zip(parts, made, strict=True):
        archive = zipfile.ZipFile(io.BytesIO(data))
        records = _records(archive)
        files = {r["digit_file"] for r in records} | {r["photo_file"] for r in records}
        assert sorted(files) == sorted(set(archive.namelist()) - {CSV_NAME})
        assert [int(r["message_id"]) for r in records] == [
            d.message_id for photo in part.photos for d in photo.digits
        ]
        assert len(records) == part.digit_count
        seen += [r["message_id"] + "/" + r["digit_index"] for r in records]
    assert seen == [f"{row.message_id}/{row.digit_index}" for row in photos.rows]


def test_at_telegrams_limit_three_photos_of_20_mb_take_two_zips() -> None:
    photos = Photos()
    for _ in range(3):
        photos.add(20 * 2**20)

    parts = plan_parts(photos.rows)

    assert [len(part.photos) for part in parts] == [2, 1]
    data = _zip(parts[0], photos.originals)
    assert 2 * 20 * 2**20 < len(data) <= UPLOAD_LIMIT


def test_a_photo_alone_over_the_limit_or_too_many_parts_are_refused() -> None:
    photos = Photos()
    for _ in range(4):
        photos.add(30_000)

    assert len(plan_parts(photos.rows, limit=40_000, max_parts=4)) == 4
    photos.add(30_000)
    with pytest.raises(ExportTooLargeError, match="5 zips needed, at most 4"):
        plan_parts(photos.rows, limit=40_000, max_parts=4)
    with pytest.raises(ExportTooLargeError, match="photo 1 alone"):
        plan_parts(photos.rows, limit=30_000)
    assert texts.export_too_large("en", MAX_PARTS, UPLOAD_LIMIT) == (
        "I cannot send your data through Telegram: it does not fit in 10 files of up to 50 MB each."
    )
    assert texts.export_too_large("fr", MAX_PARTS, UPLOAD_LIMIT).endswith(
        "elles ne tiennent pas en 10 fichiers de 50\u00a0Mo au plus chacun."
    )


def test_rows_erased_since_the_plan_are_left_out_file_and_record() -> None:
    photos = Photos()
    photos.add(3000, digits=3)
    photos.add(3000)
    [part] = plan_parts(photos.rows)
    first_digit, second_photo = photos.rows[0].id, photos.rows[3].id
    kept = {i: data for i, data in photos.originals.items() if i not in (first_digit, second_photo)}

    archive = zipfile.ZipFile(io.BytesIO(_zip(part, kept)))

    assert [name for name in archive.namelist() if name.startswith("photos/")] == []
    assert [(r["digit_index"], r["photo_file"]) for r in _records(archive)] == [
        ("1", ""),
        ("2", ""),
    ]


def test_originals_are_read_in_batches_bounded_by_bytes_and_rows() -> None:
    photos = Photos()
    for n in range(6):
        photos.add(1000, digits=1 + n)

    [part] = plan_parts(photos.rows)

    assert [len(batch) for batch in part.batches(max_bytes=2500, max_rows=100)] == [2, 2, 2]
    assert [len(batch) for batch in part.batches(max_bytes=10**6, max_rows=6)] == [3, 1, 1, 1]
    assert [len(batch) for batch in part.batches(max_bytes=10, max_rows=1)] == [1] * 6


def test_a_28x28_png_stays_within_its_bound_even_for_noise() -> None:
    for seed in range(50):
        noise = np.random.default_rng(seed).integers(0, 256, size=(28, 28), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noise).save(buffer, format="PNG")
        assert len(buffer.getvalue()) <= PNG_MAX
