"""How often does a real photo of a digit land in its digit's cluster?

For a folder of labelled real images (`labels.csv` with `path,digit,source,kind`), run each
through `to_mnist` and the model, and report the share whose cluster maps to the true digit
(the model's own `cluster_to_digit`, from MNIST) per source, per kind and per digit, with the
confusion between digits and every image refused. Beside it, a supervised probe reads the very
same 28x28 images: fitted on MNIST's labels, inside this benchmark only, it says how much is
lost in preprocessing (the probe misses too) and how much in the clusters (only they miss).
The yardstick probe is the 3-nearest-neighbour reader on deskewed PCA-50 MNIST pixels.

    python benchmarks/bench_real.py [--data ../shared/data/real-digits] [--model data/model.npz]
                                    [--sheet misses.png]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from model.data import load_mnist
from model.features import deskew
from model.modelfile import load_model
from model.preprocess import PreprocessError, to_mnist


@dataclass
class Sample:
    """One labelled real image and what the pipeline made of it."""

    path: Path
    digit: int
    source: str
    kind: str
    image: np.ndarray | None = None
    refused: str = ""
    cluster: int = -1
    answer: int = -1
    """The digit the cluster stands for (-1: refused)."""
    probe: int = -1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/real-digits"))
    parser.add_argument("--model", default="data/model.npz", help="model file to score with")
    parser.add_argument("--mnist", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of every miss here")
    return parser.parse_args(argv)


def read_labels(folder: Path) -> list[Sample]:
    """The images listed in `folder/labels.csv`."""
    with (folder / "labels.csv").open(newline="") as handle:
        return [
            Sample(folder / row["path"], int(row["digit"]), row["source"], row["kind"])
            for row in csv.DictReader(handle)
        ]


def fit_probe(mnist_dir: str | None) -> tuple[PCA, KNeighborsClassifier, float]:
    """The yardstick: 3-NN on deskewed PCA-50 pixels of MNIST's training split, with its
    accuracy on the test split."""
    mnist = load_mnist(mnist_dir)
    train = deskew(mnist.train_images).reshape(len(mnist.train_images), -1)
    pca = PCA(50, random_state=0).fit(train)
    knn = KNeighborsClassifier(3).fit(pca.transform(train), mnist.train_labels)
    test = deskew(mnist.test_images).reshape(len(mnist.test_images), -1)
    accuracy = float((knn.predict(pca.transform(test)) == mnist.test_labels).mean())
    return pca, knn, accuracy


def run(samples: list[Sample], model_path: str, mnist_dir: str | None) -> float:
    """Fill in each sample's 28x28, cluster, answer and probe reading; the probe's MNIST score."""
    model = load_model(model_path)
    mapping = {int(c): int(d) for c, d in model.metadata["cluster_to_digit"].items()}
    for sample in samples:
        try:
            sample.image = to_mnist(sample.path.read_bytes())
        except PreprocessError as exc:
            sample.refused = str(exc)
    kept = [s for s in samples if s.image is not None]
    if kept:
        images = np.stack([s.image for s in kept if s.image is not None])
        clusters = model.assign(images).clusters
        pca, knn, probe_mnist = fit_probe(mnist_dir)
        readings = knn.predict(pca.transform(deskew(images).reshape(len(images), -1)))
        for sample, cluster, reading in zip(kept, clusters, readings, strict=True):
            sample.cluster, sample.answer, sample.probe = int(cluster), mapping[cluster], reading
        return probe_mnist
    return float("nan")


def print_tables(samples: list[Sample], probe_mnist: float) -> None:
    """Shares by source, kind and digit; the clusters' confusion; the refusals."""
    print(f"{'group':<22}{'n':>5}{'clusters':>10}{'probe':>8}{'refused':>9}")
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[f"source {s.source}"].append(s)
        groups[f"kind {s.kind}"].append(s)
        groups[f"digit {s.digit}"].append(s)
    for name in sorted(groups, key=lambda g: (g.split()[0] != "source", g.split()[0], g)):
        _row(name, groups[name])
    _row("overall", samples)
    print(f"(the probe reads {probe_mnist:.1%} of MNIST's test split)")
    print("\nclusters' answer (columns) by true digit (rows), refused under '-':")
    print("     " + "".join(f"{d:>4}" for d in range(10)) + "   -")
    for digit in range(10):
        row = [s for s in samples if s.digit == digit]
        if row:
            counts = [sum(s.answer == d for s in row) for d in (*range(10), -1)]
            print(f"{digit:>4} " + "".join(f"{c:>4}" for c in counts))
    for s in samples:
        if s.refused:
            print(f"refused {s.path.name} ({s.digit}): {s.refused}")


def _row(name: str, group: list[Sample]) -> None:
    n = len(group)
    clusters = sum(s.answer == s.digit for s in group) / n
    probe = sum(s.probe == s.digit for s in group) / n
    refused = sum(bool(s.refused) for s in group)
    print(f"{name:<22}{n:>5}{clusters:>10.1%}{probe:>8.1%}{refused:>9}")


def contact_sheet(misses: list[Sample], columns: int = 6) -> Image.Image:
    """Each miss as the original, what `to_mnist` made of it, and a caption: true digit, the
    clusters' answer (cluster number) and the probe's reading."""
    cell_w, cell_h, side = 2 * 112 + 12, 112 + 34, 112
    rows = max(1, -(-len(misses) // columns))
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, s in enumerate(misses):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        with Image.open(s.path) as original:
            thumb = ImageOps.exif_transpose(original).convert("RGB")
        thumb.thumbnail((side, side))
        sheet.paste(thumb, (x + 2, y + 2))
        if s.image is not None:
            seen = Image.fromarray(s.image).resize((side, side), Image.Resampling.NEAREST)
            sheet.paste(seen.convert("RGB"), (x + side + 6, y + 2))
        answer = "refused" if s.refused else f"{s.answer} (c{s.cluster}) probe {s.probe}"
        draw.text((x + 2, y + side + 4), f"{s.digit}: {answer}", fill="black")
        draw.text((x + 2, y + side + 18), f"{s.source} {s.path.stem}", fill="gray")
    return sheet


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    samples = read_labels(args.data)
    probe_mnist = run(samples, args.model, args.mnist)
    print(f"model {args.model}, {len(samples)} real images in {args.data}")
    print_tables(samples, probe_mnist)
    if args.sheet:
        misses = [s for s in samples if s.answer != s.digit or s.probe != s.digit]
        contact_sheet(misses).save(args.sheet)
        print(f"\n{len(misses)} misses (of the clusters or the probe) drawn in {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
