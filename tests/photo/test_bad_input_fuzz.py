"""Fuzzing `to_mnist` for a bounded time: any bytes give a 28x28 uint8 or a PreprocessError.

Inputs are random bytes and real PNG, JPEG and GIF files with bytes flipped, cut or spliced,
which reach deeper into the decoders than noise does. About 300 examples, a few seconds.
"""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.serving.preprocess import PreprocessError, to_mnist


def _seed(fmt: str) -> bytes:
    image = Image.new("L", (64, 48), 255)
    image.paste(0, (20, 10, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = [_seed("PNG"), _seed("JPEG"), _seed("GIF"), _seed("BMP")]


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A seed file with a few bytes replaced, then maybe cut short or extended with junk."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


def _holds_contract(data: bytes) -> None:
    """A 28x28 uint8, or a PreprocessError whose message is a whole sentence for the user."""
    try:
        result = to_mnist(data)
    except PreprocessError as exc:
        message = str(exc)
    else:
        assert result.shape == (28, 28)
        assert result.dtype == np.uint8
        return
    assert message.endswith(".")
    assert message[0].isupper()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_images())
def test_damaged_image_files_never_escape_the_contract(data: bytes) -> None:
    _holds_contract(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape_the_contract(data: bytes) -> None:
    _holds_contract(data)
