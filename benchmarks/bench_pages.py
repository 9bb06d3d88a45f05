"""How well does `find_digits` read a photo of several digits?

For each page kind of `testkit.synth_pages`, seeded pages of 2 to 12 MNIST test digits: the share
of pages whose digit count is exact, and of the digits found where they were written whose
cluster equals the clean MNIST digit's. Then the real single-digit pictures (each must come out
as exactly one digit, and as `to_mnist` gives it), the synthetic single-digit photos of
`testkit.synth` found as more than one, and the time to find and frame the 10 digits of a
1280x960 photo against a one-digit photo.

    python -m benchmarks.bench_pages [--pages 40] [--singles 40] [--seed 0]
        [--real ../shared/data/real-digits] [--real-limit N]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.mnist import load_mnist
from model.serving.modelfile import load_model
from model.serving.preprocess import PreprocessError, find_digits, to_mnist
from testkit.synth import DISTORTIONS, make_photo
from testkit.synth_pages import KINDS, make_page


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/model.npz")
    parser.add_argument("--data", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--pages", type=int, default=40, help="pages per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--singles", type=int, default=40, help="one-digit photos per kind")
    parser.add_argument("--real", type=Path, default=Path("../shared/data/real-digits"))
    parser.add_argument(
        "--real-limit", type=int, help="read only this many real images, spread over the set"
    )
    return parser.parse_args(argv)


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over the smaller box."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return max(w, 0) * max(h, 0) / max(smaller, 1)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    model = load_model(args.model)
    images = load_mnist(args.data).test_images
    print(f"model {model.version}, {args.pages} pages per kind, seed {args.seed}")
    print(f"{'kind':<15}{'count exact':>12}{'cluster agrees':>16}")
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng([args.seed, k])
        exact = agreed = written = 0
        for _ in range(args.pages):
            digits = images[rng.choice(len(images), int(rng.integers(2, 13)), replace=False)]
            data, boxes = make_page(digits, rng, kind)
            page = find_digits(data)
            exact += len(page.digits) == len(boxes)
            found = model.assign(np.stack([d.image for d in page.digits])).clusters
            clean = model.assign(digits).clusters
            for box, cluster in zip(boxes, clean, strict=True):
                written += 1
                matches = [i for i, d in enumerate(page.digits) if _overlap(box, d.box) > 0.6]
                agreed += len(matches) == 1 and found[matches[0]] == cluster
        print(f"{kind:<15}{exact / args.pages:>12.1%}{agreed / written:>16.1%}")
    _real(args.real, args.real_limit)
    _singles(images, args.singles, args.seed)
    _timing(images)
    return 0


def _real(folder: Path, limit: int | None) -> None:
    if not (folder / "labels.csv").is_file():
        print(f"(no real digits in {folder})")
        return
    with (folder / "labels.csv").open(newline="") as handle:
        paths = [folder / row["path"] for row in csv.DictReader(handle)]
    if limit is not None and limit < len(paths):
        paths = [paths[i * len(paths) // limit] for i in range(limit)]
    single = same = 0
    for path in paths:
        data = path.read_bytes()
        page = find_digits(data)
        single += len(page.digits) == 1
        same += len(page.digits) == 1 and bool((page.digits[0].image == to_mnist(data)).all())
    share = single / len(paths)
    print(f"real single-digit images found as one digit: {single}/{len(paths)} ({share:.1%}),")
    print(f"  and then exactly to_mnist's image: {same}/{single}")


def _singles(images: np.ndarray, per_kind: int, seed: int) -> None:
    """One digit in each kind of trouble of `testkit.synth`: split into several is a wrong
    answer (a refusal is `bench_photos.py`'s concern)."""
    split = total = 0
    worst: list[str] = []
    for k, kind in enumerate(DISTORTIONS):
        rng = np.random.default_rng([seed, k])
        here = 0
        for i in rng.choice(len(images), per_kind, replace=False):
            try:
                page = find_digits(make_photo(images[i], rng, kind))
            except PreprocessError:
                continue
            total += 1
            here += len(page.digits) > 1
        split += here
        if here:
            worst.append(f"{kind} {here}")
    print(f"synthetic single-digit photos found as several digits: {split}/{total}")
    if worst:
        print(f"  ({', '.join(worst)})")


def _timing(images: np.ndarray) -> None:
    rng = np.random.default_rng(99)
    ten, _ = make_page(images[:10], rng, "row")
    one, _ = make_page(images[10:11], rng, "row")
    for name, function, data in (
        ("find_digits, 1280x960, 10 digits", find_digits, ten),
        ("find_digits, 1280x960, 1 digit", find_digits, one),
        ("to_mnist, the same 1-digit photo", to_mnist, one),
    ):
        print(f"{name}: {_median_ms(function, data):.1f} ms median")


def _median_ms(function: Callable[[bytes], object], data: bytes, repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
