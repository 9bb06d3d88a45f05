"""Fuzzing `to_mnist`: whatever bytes or image arrive, it returns a 28x28 uint8 array or raises
`PreprocessError`, never anything else (bounded: a few hundred examples per property)."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.serving.preprocess import PreprocessError, to_mnist

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]


def _check(data: bytes | Image.Image) -> None:
    try:
        result, message = to_mnist(data, max_pixels=4_000_000), None
    except PreprocessError as error:
        result, message = None, str(error)
    if result is None:
        assert message.endswith(".")
    else:
        assert result.shape == (28, 28)
        assert result.dtype == np.uint8


def _encoded(pixels: np.ndarray, fmt: str) -> bytes:
    image = Image.fromarray(pixels)
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


_small_images = st.tuples(
    st.integers(1, 80), st.integers(1, 80), st.sampled_from([1, 3, 4]), st.integers(0, 2**32 - 1)
).map(
    lambda spec: (
        np.random.default_rng(spec[3])
        .integers(0, 256, (spec[0], spec[1], spec[2]), dtype=np.uint8)
        .squeeze(axis=2)
        if spec[2] == 1
        else np.random.default_rng(spec[3]).integers(
            0, 256, (spec[0], spec[1], spec[2]), dtype=np.uint8
        )
    )
)


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    _check(data)


@FUZZ
@given(_small_images, st.sampled_from(FORMATS), st.data())
def test_corrupted_images(pixels, fmt, data):
    """Valid files with bytes flipped, cut short or spliced: what a broken upload looks like."""
    encoded = bytearray(_encoded(pixels, fmt))
    for _ in range(data.draw(st.integers(0, 8))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(encoded)))
    _check(bytes(encoded[:cut]))


@FUZZ
@given(_small_images, st.sampled_from(["1", "L", "P", "I", "F", "LA", "RGB", "RGBA", "CMYK"]))
def test_images_in_any_mode(pixels, mode):
    _check(Image.fromarray(pixels).convert(mode))


@FUZZ
@given(
    st.integers(16, 300),
    st.integers(16, 300),
    st.floats(0, 255),
    st.floats(0, 255),
    st.integers(0, 2**32 - 1),
)
def test_plain_and_noisy_pages(width, height, paper, noise, seed):
    """Flat, noisy or nearly empty pages: the ink search must not trip over its own statistics."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(paper + rng.normal(0, noise / 8 + 1e-3, (height, width)), 0, 255)
    _check(_encoded(pixels.astype(np.uint8), "PNG"))
