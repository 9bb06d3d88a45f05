"""Shared fixtures: where the MNIST files are, and the databases the store runs on."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import psycopg
import pytest

from bot.storage import Storage, open_storage
from model.learning.train import TrainResult, train_model
from model.mnist import Mnist, load_mnist
from model.serving.modelfile import load_model, save_model
from testkit import ROOT
from testkit.fake_notify import FakeNotifyRun
from testkit.postgres_schema import fresh_schema, libpq, schema_url


def _mnist_dir() -> Path:
    return Path(os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


def unavailable(reason: str, required_by: str) -> NoReturn:
    """Skip the test, or fail it when the environment variable `required_by` is 1.

    CI sets REQUIRE_POSTGRES=1 and REQUIRE_MNIST=1, so that a missing server or data set fails
    the run instead of skipping every test that needs it.
    """
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{reason} ({required_by}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory holding the four standard MNIST files (tests and CI read it)."""
    path = _mnist_dir()
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        unavailable(f"MNIST files not found in {path}; set MNIST_DIR", "REQUIRE_MNIST")
    return path


POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The local PostgreSQL, or a skip saying why it cannot be used (only its tests skip)."""
    try:
        psycopg.connect(libpq(POSTGRES_URL), connect_timeout=3).close()
    except psycopg.Error as exc:
        first_line = str(exc).splitlines()[0]
        unavailable(
            f"PostgreSQL not reachable at {POSTGRES_URL} ({first_line}); set TEST_POSTGRES_URL",
            "REQUIRE_POSTGRES",
        )
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a temporary SQLite file, or a PostgreSQL schema of its own.

    The schema name is random, so test runs of several engineers on one server never meet.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_url")
    with fresh_schema(server) as schema:
        yield schema_url(server, schema)


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    """The real store, migrated, on the database of ``database_url``."""
    store = await open_storage(database_url)
    yield store
    await store.close()


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The served model file: MODEL_PATH, else the shipped data/model.npz."""
    path = Path(os.environ.get("MODEL_PATH", ROOT / "data" / "model.npz"))
    if not path.is_file():
        pytest.skip(f"model file {path} not found; train one or set MODEL_PATH")
    return path


@pytest.fixture(scope="session")
def model_as_version(model_path: Path) -> Callable[[Path, str], Path]:
    """Save the served model under another version at a path: a retrain's file, in a moment."""
    shipped = load_model(model_path)

    def save(target: Path, version: str) -> Path:
        return save_model(
            replace(shipped, metadata=dict(shipped.metadata, version=version)), target
        )

    return save


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Mnist:
    """The four MNIST splits, read and checksummed once per test session."""
    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def digit(mnist: Mnist) -> np.ndarray:
    """A plain 7 (MNIST test image 0), read-only, for tests that send one photo."""
    return mnist.test_images[0]


@pytest.fixture(scope="session")
def digits(mnist: Mnist) -> np.ndarray:
    """The first forty MNIST test digits (all ten classes), read-only: users' photos."""
    return mnist.test_images[:40]


@pytest.fixture(scope="session")
def small_training(mnist: Mnist) -> TrainResult:
    """A real training run on 2,000 images: the whole pipeline, in seconds rather than minutes."""
    return train_model(mnist, limit=2000, random_state=0, epochs=4)


@pytest.fixture
def fake_notify() -> Iterator[FakeNotifyRun]:
    """A local notify.run endpoint recording what the bot pushes."""
    with FakeNotifyRun() as fake:
        yield fake


@pytest.fixture
def broken_mnist_dir(tmp_path: Path) -> Path:
    """MNIST files that exist but fail their checksum: a retrain fails at once."""
    directory = tmp_path / "broken-mnist"
    directory.mkdir()
    for prefix in (
        "train-images-idx3",
        "train-labels-idx1",
        "t10k-images-idx3",
        "t10k-labels-idx1",
    ):
        (directory / f"{prefix}-ubyte.gz").write_bytes(b"not mnist")
    return directory
