"""Clustering quality and cost: KMeans on raw pixels, the shipped model and new trainings, one run.

    python benchmarks/bench_model.py --data ../shared/data/mnist --seeds 0 1 2

Trains on the 60k training split, scores on the 10k test split (labels only score).
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

from model.data import Mnist, load_mnist
from model.evaluate import score_clustering
from model.features import augment
from model.modelfile import DigitModel, load_model


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def bench_raw_kmeans(mnist: Mnist, seed: int) -> dict[str, float]:
    X = mnist.train_images.reshape(60000, -1).astype(np.float32)
    T = mnist.test_images.reshape(10000, -1).astype(np.float32)
    start = time.perf_counter()
    km = KMeans(10, n_init=4, random_state=seed).fit(X)
    train_s = time.perf_counter() - start
    clusters = km.predict(T)
    scores = score_clustering(mnist.test_labels, clusters, 10)
    moved = jittered(mnist.test_images).reshape(10000, -1).astype(np.float32)
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


def bench_ours(data: str, seed: int, workdir: Path, mnist: Mnist) -> dict[str, float]:
    out = workdir / f"seed{seed}.npz"
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "model",
            "train",
            "--data",
            data,
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--shipped", default="data/model.npz", help="today's model, scored beside the new runs"
    )
    args = parser.parse_args()
    mnist = load_mnist(args.data)
    print(
        "| pipeline | ACC | NMI | ARI | kept under jitter | train s | assign 1 image ms "
        "| assign 10k s | peak RSS MB | model KB |"
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
            results.append(bench_ours(args.data, seed, Path(tmp), mnist))
            print(_row(f"ours, seed {seed}", results[-1]), flush=True)
    for label, reduce in (("min", np.min), ("mean", np.mean)):
        print(
            _row(
                f"ours, {label} of {len(results)} seeds",
                {key: float(reduce([r[key] for r in results])) for key in results[0]},
            )
        )


if __name__ == "__main__":
    main()
