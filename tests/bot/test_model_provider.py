"""ModelProvider: which model file is served, fallbacks on damage, atomic swap, worker pools."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.model_provider import ModelProvider
from bot.recognition import PARENT_CHECK_EVERY, recognise
from model.serving.modelfile import ModelFileError, load_model
from model.serving.preprocess import PreprocessError
from testkit import ROOT
from testkit.bot_harness import photo_of


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def copy_as_version(model_as_version: Callable[[Path, str], Path]) -> Callable[..., Path]:
    """A model file of `version` at `target`, last modified at `mtime` (newest first wins)."""

    def copy(target: Path, version: str, mtime: float) -> Path:
        model_as_version(target, version)
        os.utime(target, (mtime, mtime))
        return target

    return copy


def test_shipped_model_is_served_when_models_dir_is_empty(
    models_dir: Path, model_path: Path
) -> None:
    provider = ModelProvider(models_dir, model_path)
    model = provider.reload()
    assert provider.current is model
    assert model.version == load_model(model_path).version
    provider.close()


def test_newest_good_file_wins_and_damaged_ones_are_skipped(
    models_dir: Path,
    model_path: Path,
    copy_as_version: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    copy_as_version(models_dir / "old.npz", "old", 1_000_000)
    copy_as_version(models_dir / "new.npz", "new", 2_000_000)
    damaged = models_dir / "newest.npz"
    damaged.write_bytes(b"not a model")
    os.utime(damaged, (3_000_000, 3_000_000))

    provider = ModelProvider(models_dir, model_path)

    assert provider.reload().version == "new"
    assert any("newest.npz" in record.getMessage() for record in caplog.records)
    assert provider.reload(models_dir / "old.npz").version == "old"
    provider.close()


def test_a_recorded_model_file_gone_from_disk_is_logged_and_the_shipped_one_served(
    models_dir: Path, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The database names the active model's file; someone deleted it before a restart."""
    provider = ModelProvider(models_dir, model_path)

    model = provider.reload(models_dir / "accepted-20261101.npz")

    assert model.version == load_model(model_path).version
    assert any("accepted-20261101.npz" in record.getMessage() for record in caplog.records)
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


async def test_blocking_model_work_runs_in_the_thread_pool_not_on_the_event_loop(
    models_dir: Path, model_path: Path
) -> None:
    provider = ModelProvider(models_dir, model_path, threads=2)
    provider.reload()
    images = np.zeros((3, 28, 28), np.uint8)

    thread, assigned = await provider.run(
        lambda: (threading.current_thread().name, provider.current.assign(images))
    )

    assert thread.startswith("model")
    assert thread != threading.current_thread().name
    assert assigned.clusters.shape == (3,)
    provider.close()


@pytest.fixture
def photo(digit: np.ndarray) -> bytes:
    return photo_of(digit)


@pytest.fixture
def provider(models_dir: Path, model_path: Path) -> Iterator[ModelProvider]:
    provider = ModelProvider(models_dir, model_path, processes=2)
    provider.reload()
    yield provider
    provider.close()


async def test_photos_are_recognised_in_worker_processes_exactly_as_in_process(
    provider: ModelProvider, photo: bytes
) -> None:
    before = {child.pid for child in multiprocessing.active_children()}

    seen = await provider.recognise(photo)

    workers = {child.pid for child in multiprocessing.active_children()} - before
    assert 1 <= len(workers) <= 2
    here = recognise(provider.current, photo)
    assert np.array_equal(seen.digits[0].mnist, here.digits[0].mnist)
    assert (seen.digits[0].cluster, seen.model_version) == (
        here.digits[0].cluster,
        here.model_version,
    )
    assert seen.picture == here.picture


async def test_unreadable_picture_raises_the_users_message_from_the_worker(
    provider: ModelProvider,
) -> None:
    with pytest.raises(PreprocessError, match="not an image I can read"):
        await provider.recognise(b"this is not a picture at all")


async def test_a_killed_worker_is_replaced_and_the_photo_still_answered(
    provider: ModelProvider, photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    first = await provider.recognise(photo)
    killed = {child.pid for child in multiprocessing.active_children()}
    assert first.pid in killed - {os.getpid()}
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    again = await provider.recognise(photo)

    assert "a model worker process died" in caplog.text
    assert not [pid for pid in killed if _alive(pid)]
    assert again.pid not in killed | {os.getpid()}
    assert again.pid in {child.pid for child in multiprocessing.active_children()}
    assert (again.digits[0].cluster, again.model_version) == (
        first.digits[0].cluster,
        first.model_version,
    )


async def test_photos_arriving_while_the_killed_workers_are_replaced_are_all_answered(
    provider: ModelProvider, photo: bytes
) -> None:
    """The pool learns of its dead workers on its own thread: photos submitted meanwhile race
    with it tearing the pool down, and each must still get its answer."""
    expected = (await provider.recognise(photo)).digits[0].cluster
    for delay in (0.0, 0.001, 0.005, 0.02):
        await asyncio.gather(*(provider.recognise(photo) for _ in range(2)))
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)
        await asyncio.sleep(delay)

        answers = await asyncio.gather(*(provider.recognise(photo) for _ in range(4)))

        assert [answer.digits[0].cluster for answer in answers] == [expected] * 4


async def test_stopping_signals_are_left_to_the_bot(provider: ModelProvider, photo: bytes) -> None:
    """A service manager signals the whole group; the bot still needs them for photos in hand."""
    await provider.recognise(photo)
    workers = [child.pid for child in multiprocessing.active_children()]
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)

    seen = await provider.recognise(photo)

    assert seen.digits[0].cluster == recognise(provider.current, photo).digits[0].cluster
    assert all(_alive(pid) for pid in workers)


async def test_workers_follow_a_swap_to_the_new_version(
    provider: ModelProvider, photo: bytes, models_dir: Path, copy_as_version: Callable[..., Path]
) -> None:
    await provider.recognise(photo)
    path = copy_as_version(models_dir / "next.npz", "next", 2_000_000)

    provider.swap(load_model(path), path)

    assert (await provider.recognise(photo)).model_version == "next"


async def test_served_model_whose_file_is_gone_is_still_used(
    provider: ModelProvider, photo: bytes, models_dir: Path, copy_as_version: Callable[..., Path]
) -> None:
    path = copy_as_version(models_dir / "gone.npz", "gone", 2_000_000)
    provider.swap(load_model(path), path)
    path.unlink()

    assert (await provider.recognise(photo)).model_version == "gone"


_ORPHAN_PARENT = """
import asyncio, multiprocessing, os, signal, sys
from pathlib import Path
from bot.model_provider import ModelProvider

async def main():
    provider = ModelProvider(Path(sys.argv[1]), Path(sys.argv[2]), processes=2)
    provider.reload()
    await provider.recognise(Path(sys.argv[3]).read_bytes())
    print(*(child.pid for child in multiprocessing.active_children()), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_workers_exit_when_the_bot_is_killed(
    models_dir: Path, model_path: Path, photo: bytes, tmp_path: Path
) -> None:
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(photo)
    parent = subprocess.run(
        [sys.executable, "-c", _ORPHAN_PARENT, str(models_dir), str(model_path), str(picture)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    workers = [int(pid) for pid in parent.stdout.split()]
    assert workers

    deadline = time.monotonic() + 10 * PARENT_CHECK_EVERY
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]


def _alive(pid: int) -> bool:
    """Running, not a zombie: a dead worker whose parent died is reaped by init."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_swap_serves_the_new_model_from_the_next_read(models_dir: Path, model_path: Path) -> None:
    provider = ModelProvider(models_dir, model_path)
    first = provider.reload()
    second = load_model(model_path)
    provider.swap(second, model_path)
    assert provider.current is second
    assert provider.current is not first
    assert provider.current_path == model_path
    provider.close()
