"""Digits learned from MNIST without labels: `serving` assigns them, `learning` fits the model."""

MNIST_SIDE = 28
"""The side of an MNIST digit in pixels: every image the model reads or draws is this square."""
