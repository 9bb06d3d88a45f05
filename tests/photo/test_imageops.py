"""`model.serving.photo.imageops` against the scipy, numpy and Pillow calls it stands in for.

The preprocessing relies on these being the same operations, only cheaper, so each is checked
on seeded random images of many shapes, down to one pixel wide.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from model.serving.photo import imageops

SHAPES = [(1, 1), (1, 9), (7, 1), (2, 3), (5, 5), (17, 12), (48, 64), (31, 70)]


def images(dtype: type = np.float32) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [(rng.random(shape) * 255).astype(dtype) for shape in SHAPES]


def masks() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.random(shape) < density for shape in SHAPES for density in (0.2, 0.6)]


def disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius + radius


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 16])
def test_closing_is_scipys(size):
    for image in images():
        assert np.array_equal(
            imageops.closing(image, size), ndimage.grey_closing(image, size=(size, size))
        )


@pytest.mark.parametrize("size", [1, 3, 5])
def test_top_hats_are_scipys(size):
    for image in images():
        dark, light = imageops.top_hats(image, size)
        assert np.array_equal(dark, ndimage.grey_closing(image, size=(size, size)) - image)
        assert np.array_equal(light, image - ndimage.grey_opening(image, size=(size, size)))


@pytest.mark.parametrize("radius", [1, 2, 3, 5])
def test_disk_filters_are_scipys_with_a_disk_footprint(radius):
    for image in images():
        footprint = disk(radius)
        assert np.array_equal(
            imageops.disk_dilation(image, radius), ndimage.grey_dilation(image, footprint=footprint)
        )
        assert np.array_equal(
            imageops.disk_erosion(image, radius), ndimage.grey_erosion(image, footprint=footprint)
        )


@pytest.mark.parametrize("length", [3, 9])
def test_line_closing_is_scipys_binary_closing(length):
    for mask in masks():
        down = imageops.line_closing(mask, length, axis=-2)
        across = imageops.line_closing(mask, length, axis=-1)
        assert np.array_equal(down, ndimage.binary_closing(mask, np.ones((length, 1), bool)))
        assert np.array_equal(across, ndimage.binary_closing(mask, np.ones((1, length), bool)))


@pytest.mark.parametrize("iterations", [1, 2])
def test_grow_is_binary_dilation(iterations):
    for mask in masks():
        assert np.array_equal(
            imageops.grow(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations)
        )


@pytest.mark.parametrize("q", [0.0, 0.01, 0.5, 0.9, 0.99, 1.0])
def test_quantile_is_numpys(q):
    for image in images():
        assert imageops.quantile(image, q) == pytest.approx(float(np.quantile(image, q)), abs=1e-3)
        strided = image[::2, ::3]
        assert imageops.quantile(strided, q) == pytest.approx(
            float(np.quantile(strided, q)), abs=1e-3
        )


@pytest.mark.parametrize("factor", [1, 2, 5])
def test_upsample_is_pillows_bilinear(factor):
    for image in images():
        height, width = image.shape
        shape = (height * factor + factor // 2, width * factor)
        pillow = Image.fromarray(image).resize(shape[::-1], Image.Resampling.BILINEAR)
        assert np.allclose(imageops.upsample(image, shape), np.asarray(pillow), atol=1e-3)


def test_coordinates_are_numpys_nonzero_in_its_order():
    for mask in [*masks(), np.zeros((3, 4), bool)]:
        for view in (mask, mask.T, mask[::2, 1:]):
            rows, cols = imageops.coordinates(view)
            expected_rows, expected_cols = np.nonzero(view)
            assert np.array_equal(rows, expected_rows)
            assert np.array_equal(cols, expected_cols)


def test_bounding_box_spans_the_mask():
    for mask in masks():
        if not mask.any():
            continue
        box = imageops.bounding_box(mask)
        ys, xs = np.nonzero(mask)
        assert box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert mask[box.slices].sum() == mask.sum()


def test_label_is_scipys_with_its_objects():
    """Same labels, numbered alike, and the same boxes as `find_objects`, 8-connected."""
    rng = np.random.default_rng(2)
    shaped = [rng.random(tuple(rng.integers(1, 40, 2))) < rng.random() for _ in range(400)]
    crossing = [np.kron(np.eye(6, dtype=bool)[::-1] | np.eye(6, dtype=bool), np.ones((3, 5), bool))]
    for mask in [*masks(), *shaped, *crossing, np.zeros((4, 4), bool), np.ones((3, 7), bool)]:
        labels, count, boxes = imageops.label(mask)
        expected, expected_count = ndimage.label(mask, structure=np.ones((3, 3), bool))
        objects = [
            [s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndimage.find_objects(expected)
        ]

        assert count == expected_count
        assert np.array_equal(labels, expected)
        assert boxes.tolist() == objects
