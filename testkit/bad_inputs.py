"""Builders for hostile, broken and unusual files a user can send, as bytes made on the spot.

Each builder takes the digit to draw (an MNIST image, white ink on black) where the format can
carry one, so the test can compare what the bot stored with what a plain photo gives.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def paper(digit: np.ndarray, size: int = 280) -> Image.Image:
    """The digit as dark ink on white paper, enlarged: what a phone photographs."""
    return Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR)


def jpeg(digit: np.ndarray) -> bytes:
    """A plain grayscale JPEG of the digit: the reference the variants are compared with."""
    return _save(paper(digit), "JPEG", quality=90)


def truncated_jpeg(digit: np.ndarray) -> bytes:
    """The first half of a JPEG: an upload cut off mid-way."""
    data = jpeg(digit)
    return data[: len(data) // 2]


def one_pixel_png() -> bytes:
    return _save(Image.new("L", (1, 1), 0), "PNG")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def png_with_text_bomb(digit: np.ndarray) -> bytes:
    """A valid PNG carrying a compressed text chunk that inflates to 64 MB."""
    bomb = b"Comment\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9)
    data = _save(paper(digit), "PNG")
    end = data.rindex(b"IEND") - 4
    return data[:end] + _png_chunk(b"zTXt", bomb) + data[end:]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose frame header claims `width` x `height` pixels."""
    data = bytearray(_save(Image.new("L", (16, 16), 255), "JPEG"))
    marker = data.index(b"\xff\xc0")
    data[marker + 5 : marker + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def animated_gif(digit: np.ndarray) -> bytes:
    """Two frames: the digit, then a blank page; a still image means the first frame."""
    first = paper(digit).convert("P")
    second = Image.new("P", first.size, 255)
    return _save(first, "GIF", save_all=True, append_images=[second], duration=200, loop=0)


def cmyk_jpeg(digit: np.ndarray) -> bytes:
    return _save(paper(digit).convert("CMYK"), "JPEG", quality=90)


def png_16_bit(digit: np.ndarray) -> bytes:
    values = np.asarray(paper(digit), dtype=np.uint16) * 257
    return _save(Image.fromarray(values), "PNG")


def transparent_png(digit: np.ndarray) -> bytes:
    """Black ink whose alpha is the digit, on a fully transparent background."""
    ink = Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR)
    image = Image.new("RGBA", ink.size, (0, 0, 0, 0))
    image.putalpha(ink)
    return _save(image, "PNG")


def palette_png_with_transparency(digit: np.ndarray) -> bytes:
    image = paper(digit).convert("P")
    return _save(image, "PNG", transparency=255)


def webp(digit: np.ndarray) -> bytes:
    return _save(paper(digit).convert("RGB"), "WEBP", quality=80)


def bmp(digit: np.ndarray) -> bytes:
    return _save(paper(digit), "BMP")


def multipage_tiff(digit: np.ndarray) -> bytes:
    blank = Image.new("L", (280, 280), 255)
    return _save(paper(digit), "TIFF", save_all=True, append_images=[blank])


def rotated_by_exif(digit: np.ndarray) -> bytes:
    """The digit stored on its side with EXIF orientation 6, as phones save portrait shots."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(paper(digit).rotate(90, expand=True), "JPEG", exif=exif)


def long_strip() -> bytes:
    """10,000 x 16 pixels of noise: a shape no digit has."""
    noise = np.random.default_rng(0).integers(0, 256, (16, 10_000), dtype=np.uint8)
    return _save(Image.fromarray(noise), "PNG")


def svg() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
        b'<text x="4" y="24" font-size="24">7</text></svg>'
    )


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def heic() -> bytes:
    """The start of an HEIC file (ISO base media, brand heic), which Pillow cannot decode."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 200


def text_as_jpeg() -> bytes:
    return b"This is a shopping list, not a photo.\nmilk\neggs\n"


def zip_archive() -> bytes:
    """A zip holding a megabyte of zeros, sent as if it were a PNG."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("digit.png", b"\x00" * (1024 * 1024))
    return buffer.getvalue()
