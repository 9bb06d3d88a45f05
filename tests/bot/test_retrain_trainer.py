"""The trainer subprocess: its JSON line, its one-line errors, time limit and heartbeats."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from bot.trainer import TrainingError, TrainingJob, read_report, run_training

RESULT = {
    "path": "data/models/candidates/run-1.npz",
    "version": "20261125T194000Z-3f2a1b",
    "duration_s": 12.5,
    "n_train": 3000,
    "n_extra": 4,
    "metrics": {"acc": 0.8, "nmi": 0.7, "ari": 0.6},
    "cluster_sizes": [300] * 10,
    "changed_answers": 12,
}


def test_result_is_read_from_the_json_line() -> None:
    result = read_report(json.dumps(RESULT))
    assert result.path == Path(RESULT["path"])
    assert (result.n_train, result.n_extra, result.changed_answers) == (3000, 4, 12)
    assert result.metrics == {"acc": 0.8, "nmi": 0.7, "ari": 0.6}


@pytest.mark.parametrize("line", ["", "100%|██████████| done", json.dumps({"path": "x"})])
def test_anything_else_is_a_training_error(line: str) -> None:
    with pytest.raises(TrainingError, match="no usable result"):
        read_report(line)


def test_command_carries_only_the_given_options(tmp_path: Path) -> None:
    job = TrainingJob(out=tmp_path / "m.npz", limit=500, python="python3")
    assert job.command() == [
        "python3",
        *("-m", "model", "train", "--json", "--out", str(tmp_path / "m.npz")),
        *("--limit", "500"),
    ]


async def test_wrong_shape_extra_fails_with_the_trainers_sentence(
    tmp_path: Path, mnist_dir: Path
) -> None:
    extra = tmp_path / "extra.npy"
    np.save(extra, np.zeros((3, 14, 14), dtype=np.uint8))
    job = TrainingJob(out=tmp_path / "m.npz", extra=extra, data_dir=mnist_dir, limit=200)
    with pytest.raises(TrainingError, match=r"^error: extra images must be .* \(n, 28, 28\)"):
        await run_training(job, time_limit=300)
    assert not (tmp_path / "m.npz").exists()


async def test_time_limit_stops_the_trainer_after_heartbeats(
    tmp_path: Path, mnist_dir: Path
) -> None:
    beats: list[int] = []

    async def heartbeat() -> None:
        beats.append(1)

    job = TrainingJob(out=tmp_path / "m.npz", data_dir=mnist_dir, limit=1000)
    with pytest.raises(TrainingError, match="longer than 2 s and was stopped"):
        await run_training(job, time_limit=2, heartbeat=heartbeat, heartbeat_every=0.5)
    assert len(beats) >= 2
    assert not (tmp_path / "m.npz").exists()


async def test_a_failing_heartbeat_stops_the_trainer(tmp_path: Path, mnist_dir: Path) -> None:
    async def lost() -> None:
        raise TrainingError("the run was declared dead")

    job = TrainingJob(out=tmp_path / "m.npz", data_dir=mnist_dir, limit=1000)
    with pytest.raises(TrainingError, match="declared dead"):
        await run_training(job, time_limit=300, heartbeat=lost, heartbeat_every=0.3)
    assert not (tmp_path / "m.npz").exists()


def _trainer_threads() -> list[int]:
    """Threads of this process's `python -m model train` children, from /proc."""
    children = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children += (task / "children").read_text().split()
    threads = []
    for pid in children:
        with contextlib.suppress(OSError):
            if b"model\0train" in Path(f"/proc/{pid}/cmdline").read_bytes():
                threads += [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    return threads


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
async def test_the_trainer_only_gets_cpu_that_replies_leave_idle(
    tmp_path: Path, mnist_dir: Path
) -> None:
    policies: list[int] = []

    async def heartbeat() -> None:
        for thread in _trainer_threads():
            with contextlib.suppress(OSError):
                policies.append(os.sched_getscheduler(thread))

    job = TrainingJob(out=tmp_path / "m.npz", data_dir=mnist_dir, limit=1000)
    with pytest.raises(TrainingError, match="longer than 3 s"):
        await run_training(job, time_limit=3, heartbeat=heartbeat, heartbeat_every=0.5)
    assert policies
    assert set(policies) == {os.SCHED_IDLE}
