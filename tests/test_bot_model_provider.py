"""ModelProvider: which model file is served, fallbacks on damage, atomic swap, worker pool."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.model_provider import ModelProvider
from model.modelfile import ModelFileError, load_model, save_model


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


def _copy_as_version(model_path: Path, target: Path, version: str, mtime: float) -> Path:
    model = load_model(model_path)
    model.metadata = dict(model.metadata, version=version)
    save_model(model, target)
    os.utime(target, (mtime, mtime))
    return target


def test_shipped_model_is_served_when_models_dir_is_empty(
    models_dir: Path, model_path: Path
) -> None:
    provider = ModelProvider(models_dir, model_path)
    model = provider.reload()
    assert provider.current is model
    assert model.version == load_model(model_path).version
    provider.close()


def test_newest_good_file_wins_and_damaged_ones_are_skipped(
    models_dir: Path, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _copy_as_version(model_path, models_dir / "old.npz", "old", 1_000_000)
    _copy_as_version(model_path, models_dir / "new.npz", "new", 2_000_000)
    damaged = models_dir / "newest.npz"
    damaged.write_bytes(b"not a model")
    os.utime(damaged, (3_000_000, 3_000_000))

    provider = ModelProvider(models_dir, model_path)

    assert provider.reload().version == "new"
    assert any("newest.npz" in record.getMessage() for record in caplog.records)
    assert provider.reload(models_dir / "old.npz").version == "old"
    provider.close()


def test_no_usable_file_says_how_to_get_one(models_dir: Path, tmp_path: Path) -> None:
    provider = ModelProvider(models_dir, tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="python -m model train"):
        provider.reload()
    with pytest.raises(RuntimeError, match="no model loaded"):
        _ = provider.current
    provider.close()


def test_tampered_shipped_file_is_refused(
    models_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.npz"
    shutil.copy(model_path, tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    provider = ModelProvider(models_dir, tampered)
    with pytest.raises(ModelFileError):
        provider.reload()
    provider.close()


async def test_model_work_runs_in_the_pool_not_on_the_event_loop(
    models_dir: Path, model_path: Path
) -> None:
    provider = ModelProvider(models_dir, model_path, workers=2)
    provider.reload()
    images = np.zeros((3, 28, 28), np.uint8)

    thread, assigned = await provider.run(
        lambda: (threading.current_thread().name, provider.current.assign(images))
    )

    assert thread.startswith("model")
    assert thread != threading.current_thread().name
    assert assigned.clusters.shape == (3,)
    provider.close()


def test_swap_serves_the_new_model_from_the_next_read(models_dir: Path, model_path: Path) -> None:
    provider = ModelProvider(models_dir, model_path)
    first = provider.reload()
    second = load_model(model_path)
    provider.swap(second)
    assert provider.current is second
    assert provider.current is not first
    provider.close()
