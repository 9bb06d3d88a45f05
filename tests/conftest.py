"""Shared fixtures: where the MNIST files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mnist_dir() -> Path:
    return Path(os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory holding the four standard MNIST files (tests and CI read it)."""
    path = _mnist_dir()
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {path}; set MNIST_DIR")
    return path
