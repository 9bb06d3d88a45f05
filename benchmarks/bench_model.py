"""Clustering quality and cost: KMeans on raw pixels, the shipped model and new trainings, one run.

    python -m benchmarks.bench_model --data ../shared/data/mnist --seeds 0 1 2 [--limit N]

Trains on the 60k training split, scores on the 10k test split (labels only score).
`--limit N` makes a quick run (a smoke test): every pipeline trains on the first N training
digits and is scored on the first N test digits, figures that say nothing of the full run.
Each of our training runs is a separate `python -m model train` process, so its wall time
and peak RSS are its own. "Kept under jitter" is the share of test digits whose cluster stays
the same once rotated, scaled, sheared and shifted as handwriting varies (seeded). Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from model.learning.augment import augment
from model.learning.evaluate import score_clustering
from model.mnist import Mnist, load_mnist, resolve_mnist_dir
from model.serving.modelfile import DigitModel, load_model


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def bench_raw_kmeans(mnist: Mnist, seed: int) -> dict[str, float]:
    X = mnist.train_images.reshape(len(mnist.train_images), -1).astype(np.float32)
    T = mnist.test_images.reshape(len(mnist.test_images), -1).astype(np.float32)
    start = time.perf_counter()
    km = KMeans(10, n_init=4, random_state=seed).fit(X)
    train_s = time.perf_counter() - start
    clusters = km.predict(T)
    scores = score_clustering(mnist.test_labels, clusters, 10)
    moved = jittered(mnist.test_images).reshape(len(T), -1).astype(np.float32)
    return {
        "acc": scores.acc,
        "nmi": scores.nmi,
        "ari": scores.ari,
        "jitter_kept": float((km.predict(moved) == clusters).mean()),
        "train_s": train_s,
        "one_ms": _median_ms(lambda: km.predict(T[:1]), 200),
        "batch_s": _median_ms(lambda: km.predict(T), 3) / 1000,
        "rss_mb": float("nan"),
        "size_kb": km.cluster_centers_.nbytes / 1024,
    }


def jittered(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The test digits moved as handwriting moves them (rotation up to 15°, scale 0.9-1.1,
    shear up to 0.15, shift up to 2 px; seeded, so every model meets the same digits), back
    to uint8 like a photo's 28x28."""
    rng = np.random.default_rng(seed)
    moved = augment(images, rng, max_rotation=15.0, scale=(0.9, 1.1), max_shear=0.15, max_shift=2.0)
    return np.clip(np.rint(moved * 255), 0, 255).astype(np.uint8)


def bench_model(model: DigitModel, mnist: Mnist) -> dict[str, float]:
    """Test-split scores, cluster kept under jitter, assignment times of a trained model."""
    clusters = model.assign(mnist.test_images).clusters
    scores = score_clustering(mnist.test_labels, clusters, model.k)
    kept = model.assign(jittered(mnist.test_images)).clusters == clusters
    one = mnist.test_images[:1]
    return {
        "acc": scores.acc,
        "nmi": scores.nmi,
        "ari": scores.ari,
        "jitter_kept": float(kept.mean()),
        "one_ms": _median_ms(lambda: model.assign(one), 200),
        "batch_s": _median_ms(lambda: model.assign(mnist.test_images), 3) / 1000,
    }


def bench_ours(
    data: str, seed: int, workdir: Path, mnist: Mnist, limit: int | None
) -> dict[str, float]:
    out = workdir / f"seed{seed}.npz"
    command = [sys.executable, "-m", "model", "train", "--data", data, "--seed", str(seed)]
    command += ["--out", str(out), "--json"]
    if limit is not None:
        command += ["--limit", str(limit)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench_model: training seed {seed} exited {proc.returncode}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        **bench_model(load_model(out), mnist),
        "train_s": wall,
        "rss_mb": summary["peak_rss_mb"],
        "size_kb": out.stat().st_size / 1024,
    }


def _row(name: str, r: dict[str, float]) -> str:
    rss = "–" if np.isnan(r["rss_mb"]) else f"{r['rss_mb']:.0f}"
    train = "–" if np.isnan(r["train_s"]) else f"{r['train_s']:.0f}"
    return (
        f"| {name} | {r['acc']:.4f} | {r['nmi']:.4f} | {r['ari']:.4f} | "
        f"{100 * r['jitter_kept']:.2f}% | {train} | "
        f"{r['one_ms']:.3f} | {r['batch_s']:.3f} | {rss} | {r['size_kb']:.0f} |"
    )


def _count(n: int) -> str:
    """10000 as "10k", 2500 as "2,500"."""
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--shipped", default="data/model.npz", help="today's model, scored beside the new runs"
    )
    parser.add_argument(
        "--limit",
        type=int,
        help="a quick run (a smoke test): train on the first N training digits and score on "
        "the first N test digits (default: all 60,000 and 10,000)",
    )
    args = parser.parse_args(argv)
    args.data = str(resolve_mnist_dir(args.data))
    mnist = load_mnist(args.data).first(args.limit)
    print(
        "| pipeline | ACC | NMI | ARI | kept under jitter | train s | assign 1 image ms "
        f"| assign {_count(len(mnist.test_images))} s | peak RSS MB | model KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(_row("raw-pixel KMeans (old approach), seed 0", bench_raw_kmeans(mnist, 0)), flush=True)
    shipped = load_model(args.shipped)
    print(
        _row(
            f"shipped model `{shipped.version}`",
            {
                **bench_model(shipped, mnist),
                "train_s": float("nan"),
                "rss_mb": float("nan"),
                "size_kb": Path(args.shipped).stat().st_size / 1024,
            },
        ),
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            results.append(bench_ours(args.data, seed, Path(tmp), mnist, args.limit))
            print(_row(f"ours, seed {seed}", results[-1]), flush=True)
    for label, reduce in (("min", np.min), ("mean", np.mean)):
        print(
            _row(
                f"ours, {label} of {len(results)} seeds",
                {key: float(reduce([r[key] for r in results])) for key in results[0]},
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
