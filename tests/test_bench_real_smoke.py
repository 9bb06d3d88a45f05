"""`benchmarks/bench_real.py` runs end to end: a spread of 20 real images, probes fitted on
3,000 MNIST digits. It checks the benchmark still works, not its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DIGITS = ROOT.parent / "shared" / "data" / "real-digits"


@pytest.mark.skipif(
    not (REAL_DIGITS / "labels.csv").is_file(), reason=f"no real-digit set at {REAL_DIGITS}"
)
def test_bench_real_prints_its_table_and_draws_the_sheet(
    mnist_dir: Path, model_path: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "s.png"
    command = [
        sys.executable,
        "benchmarks/bench_real.py",
        *("--data", str(REAL_DIGITS), "--model", str(model_path)),
        *("--limit", "20", "--mnist-limit", "3000", "--sheet", str(sheet)),
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "MNIST_DIR": str(mnist_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.split() == ["group", "n", "clusters", "kNN", "net", "pieces", "refused"]
        for line in lines
    ), result.stdout
    assert any(line.startswith("overall ") for line in lines), result.stdout
    assert sheet.is_file()
