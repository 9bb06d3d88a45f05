"""Every script in `benchmarks/` runs end to end at a tiny size, so a broken benchmark is found
here and not by its next reader. Each runs as its reader would run it (a subprocess from the
repository's root), must exit 0 and print its table's header and at least one row. These tests
check that the benchmarks still work, not their figures: a tiny run's figures mean nothing.

Their outputs go to `tmp_path` or to temporary directories of their own: nothing but Python's
bytecode caches is written inside the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ROOT

REAL_DIGITS = ROOT.parent / "shared" / "data" / "real-digits"
needs_real_digits = pytest.mark.skipif(
    not (REAL_DIGITS / "labels.csv").is_file(), reason=f"no real-digit set at {REAL_DIGITS}"
)


def run_benchmark(
    script: str, *args: object, mnist_dir: Path | None = None, timeout: float = 120
) -> list[str]:
    """Run `python -m benchmarks.<script>` with `args`; its stdout's lines once it exited 0."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if mnist_dir is not None:
        env["MNIST_DIR"] = str(mnist_dir)
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script}", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{script} exited {result.returncode}\n--- stderr:\n{result.stderr}"
        f"\n--- stdout:\n{result.stdout}"
    )
    return result.stdout.splitlines()


def assert_header(lines: list[str], *words: str) -> None:
    """A line made of exactly these words, in this order (the table's header)."""
    assert any(line.split() == list(words) for line in lines), "\n".join(lines)


def assert_row(lines: list[str], pattern: str) -> None:
    """A line that matches `pattern` whole (a row of the table)."""
    assert any(re.fullmatch(pattern, line) for line in lines), (
        f"no line matches {pattern!r} in:\n" + "\n".join(lines)
    )


PERCENT = r"\d+\.\d%"
NUMBER = r"\d+(?:\.\d+)?"


def test_bench_load(mnist_dir: Path, model_path: Path) -> None:
    lines = run_benchmark(
        "bench_load",
        # 25 messages a user, past a chat's burst: some replies meet Telegram's 429 and wait.
        *("--messages", 50, "--users", 2, "--rate", 0),
        *("--model", model_path, "--data", mnist_dir),
        mnist_dir=mnist_dir,
    )
    assert_row(lines, rf"machine +{NUMBER} ms to decode and resize a 1280x960 JPEG \(one core\)")
    assert_row(lines, r"load +2 users, flat out, long polling, SQLite, [\d:]+")
    assert_row(lines, rf"messages +50 \(\d+ pictures\) in {NUMBER} s")
    assert_row(lines, r"exactly once +unanswered 0, answered twice 0; sends Telegram refused \d+")
    assert_row(lines, r"verdict +OK")


def test_bench_model(mnist_dir: Path, model_path: Path) -> None:
    lines = run_benchmark(
        "bench_model",
        *("--data", mnist_dir, "--shipped", model_path, "--seeds", 0, "--limit", 1000),
        mnist_dir=mnist_dir,
    )
    header = (
        "| pipeline | ACC | NMI | ARI | kept under jitter | train s | assign 1 image ms "
        "| assign 1k s | peak RSS MB | model KB |"
    )
    assert header in lines, "\n".join(lines)
    cells = r"( [\d.–%]+ \|){9}"
    assert_row(lines, rf"\| raw-pixel KMeans \(old approach\), seed 0 \|{cells}")
    assert_row(lines, rf"\| shipped model `[^`]+` \|{cells}")
    assert_row(lines, rf"\| ours, seed 0 \|{cells}")
    assert_row(lines, rf"\| ours, mean of 1 seeds \|{cells}")


def test_bench_pages(mnist_dir: Path, model_path: Path) -> None:
    lines = run_benchmark(
        "bench_pages",
        *("--model", model_path, "--data", mnist_dir, "--pages", 1, "--singles", 1),
        *("--real", REAL_DIGITS, "--real-limit", 10),
        mnist_dir=mnist_dir,
    )
    assert_header(lines, "kind", "count", "exact", "cluster", "agrees")
    assert_row(lines, rf"row +{PERCENT} +{PERCENT}")
    assert_row(lines, r"synthetic single-digit photos found as several digits: \d+/\d+")
    assert_row(lines, rf"find_digits, 1280x960, 10 digits: {NUMBER} ms median")
    if (REAL_DIGITS / "labels.csv").is_file():
        assert_row(lines, r"real single-digit images found as one digit: \d+/10 .*")


def test_bench_photos(mnist_dir: Path, model_path: Path, tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    lines = run_benchmark(
        "bench_photos",
        *("--model", model_path, "--data", mnist_dir, "--n", 4, "--kinds", "plain", "ruled"),
        *("--examples", examples, "--exit-zero"),
        mnist_dir=mnist_dir,
    )
    assert_header(lines, "distortion", "agree", "refused")
    assert_row(lines, rf"plain +{PERCENT} +\d+")
    assert_row(lines, rf"ruled +{PERCENT} +\d+")
    assert_row(lines, rf"overall +{PERCENT} +\(\d+/\d+\)")
    assert (examples / "plain_0_mnist.png").is_file()


def test_bench_preprocess() -> None:
    lines = run_benchmark("bench_preprocess", "--repeat", 3, "--exit-zero")
    assert_header(lines, "step", "ms", "share")
    assert_row(lines, rf"decode \+ resize \(baseline\) +{NUMBER} +1\.00")
    assert_row(lines, rf"to_mnist, ruled +{NUMBER} +{NUMBER}")
    assert_row(lines, r"target <= 5\.0 ms on every page: (met|MISSED)")


@needs_real_digits
def test_bench_real(mnist_dir: Path, model_path: Path, tmp_path: Path) -> None:
    """A spread of 20 real images, probes fitted on 1,000 MNIST digits, the sheet drawn and the
    net probe's cache written."""
    sheet, cache = tmp_path / "misses.png", tmp_path / "netprobe.npz"
    lines = run_benchmark(
        "bench_real",
        *("--data", REAL_DIGITS, "--model", model_path, "--mnist", mnist_dir),
        *("--limit", 20, "--mnist-limit", 1000, "--sheet", sheet, "--probe-cache", cache),
        mnist_dir=mnist_dir,
    )
    assert_header(lines, "group", "n", "clusters", "kNN", "net", "pieces", "refused")
    assert_row(lines, rf"overall +20 +{PERCENT} +{PERCENT} +{PERCENT} +\d+ +\d+")
    assert sheet.is_file()
    assert cache.is_file()


def test_bench_retrain_latency(mnist_dir: Path, model_path: Path) -> None:
    lines = run_benchmark(
        "bench_retrain_latency",
        *("--model", model_path, "--data", mnist_dir),
        *("--limit", 300, "--idle", 3, "--max-during", 3),
        mnist_dir=mnist_dir,
    )
    latencies = rf"n=3 +p50= *{NUMBER} ms +p95= *{NUMBER} ms +max= *{NUMBER} ms"
    assert_row(lines, rf"idle +{latencies}")
    assert_row(lines, rf"retrain +{latencies}")
    assert_row(lines, r"retraining on 300 MNIST images: .+")


@pytest.mark.postgres
def test_bench_storage(postgres_url: str, tmp_path: Path) -> None:
    """Both stores: SQLite in `tmp_path`, PostgreSQL in a throwaway schema (not skipped)."""
    lines = run_benchmark(
        "bench_storage",
        *("--n", 20, "--kb", 10, "--repeat", 1),
        *("--sqlite-dir", tmp_path, "--postgres", postgres_url),
    )
    assert_row(lines, rf"sqlite: saved 20 x 10 KB in {NUMBER} s \(\d+ photos/s\)")
    assert_row(lines, rf"postgresql: saved 20 x 10 KB in {NUMBER} s \(\d+ photos/s\)")
    assert sum(bool(re.fullmatch(rf"  global_stats: {NUMBER} ms", x)) for x in lines) == 2
