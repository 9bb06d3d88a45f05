"""How often does a real photo of a digit land in its digit's cluster?

For a folder of labelled real images (`labels.csv` with `path,digit,source,kind` and
`crop_box_xyxy`), run each through `to_mnist` and the model, and report the share whose
cluster maps to the true digit (the model's own `cluster_to_digit`, from MNIST) per source,
per kind, per digit and per set (the hand-cut crops, the whole photos), with the confusion
between digits and every image refused.

Beside the clusters, two supervised probes read the very same 28x28 images. Fitted on MNIST's
labels, inside this benchmark only, they say how much is lost in preprocessing (the probes miss
too) and how much in the clusters (only they miss):

- `kNN`, the yardstick kept from the first tables: 3 nearest neighbours on deskewed PCA-50
  MNIST pixels;
- `net`, the project's own network recipe taught with labels instead of pseudo-labels: the
  (512, 256) ReLU network reading pooled stroke orientations of deskewed digits, trained on
  MNIST's training split and warped copies of it (`augmented_copy`), then settled at a tenth
  of the learning rate. Stronger than the yardstick, it says what the model's own features
  let a reader with labels make of these images. Fitting it takes minutes, so
  `--probe-cache` keeps its weights between runs.

`pieces` counts the clusters' misses whose 28x28 image has its ink in two or more pieces: a
stroke broken in preprocessing (or drawn apart, as some 4s and 5s are).

`--limit` and `--mnist-limit` make a quick run (a smoke test): a spread of the images, and
probes fitted on the first MNIST digits only.

    python -m benchmarks.bench_real [--data ../shared/data/real-digits] [--model data/model.npz]
                                    [--sheet misses.png] [--probe-cache netprobe.npz]
                                    [--limit N] [--mnist-limit M]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps
from scipy import ndimage
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from model.learning.clustering import augmented_copy
from model.mnist import Mnist, load_mnist
from model.serving.features import deskew
from model.serving.modelfile import load_model
from model.serving.network import network_forward, network_inputs
from model.serving.preprocess import PreprocessError, to_mnist

NET_HIDDEN = (512, 256)  # the feature network's hidden layers (`DigitClusterer`'s default)
NET_INPUT = "orientations"  # what the network reads of a deskewed digit
NET_COPIES = 7  # warped copies of the training digits beside them
NET_EPOCHS = 5  # passes over digits and copies at Adam's default learning rate
NET_FINE_TUNE_EPOCHS = 2  # further passes at a tenth of it, as self-training settles
NET_BATCH = 256  # Adam's minibatch, as in self-training
NET_SEED = 0  # the network's initial weights and the copies' warps
# One BLAS thread while fitting: on 2 cores, OpenBLAS's two threads spin against any other
# busy process and an epoch takes about ten times longer; alone, one thread costs 1.5 times.
NET_THREADS = 1
INK = 128  # a 28x28 pixel at least this bright is ink, for counting a stroke's pieces
SPECK = 3  # ink components under this many pixels are specks, not pieces


@dataclass
class Sample:
    """One labelled real image and what the pipeline made of it."""

    path: Path
    digit: int
    source: str
    kind: str
    cropped: bool
    """Cut from a larger photo by hand (a `crop_box_xyxy` in labels.csv)."""
    image: np.ndarray | None = None
    refused: str = ""
    cluster: int = -1
    answer: int = -1
    """The digit the cluster stands for (-1: refused)."""
    knn: int = -1
    net: int = -1
    pieces: int = 0
    """Pieces of ink in the 28x28 image."""


@dataclass(frozen=True)
class NetProbe:
    """The net probe's layers, fitted or read from a cache."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def read(self, images: np.ndarray) -> np.ndarray:
        """The digit read in each raw (n, 28, 28) image."""
        deskewed = deskew(images).reshape(len(images), -1)
        features = network_inputs(deskewed, NET_INPUT)
        return network_forward(features, self.weights, self.biases).argmax(axis=1)


@dataclass(frozen=True)
class ProbeScores:
    """Each probe's share of MNIST's test digits, and how the net probe was had."""

    knn: float
    net: float
    net_origin: str
    test_digits: int


class ProbeCacheError(Exception):
    """The probe cache holds a network fitted with other parameters."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/real-digits"))
    parser.add_argument("--model", default="data/model.npz", help="model file to score with")
    parser.add_argument("--mnist", default=None, help="MNIST directory (default $MNIST_DIR)")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of every miss here")
    parser.add_argument("--probe-cache", type=Path, help="the net probe's weights: read or made")
    parser.add_argument("--limit", type=int, help="score only this many images, spread out")
    parser.add_argument("--mnist-limit", type=int, help="fit and score the probes on the first M")
    return parser.parse_args(argv)


def read_labels(folder: Path) -> list[Sample]:
    """The images listed in `folder/labels.csv`."""
    with (folder / "labels.csv").open(newline="") as handle:
        return [
            Sample(
                folder / row["path"],
                int(row["digit"]),
                row["source"],
                row["kind"],
                cropped=bool(row["crop_box_xyxy"].strip()),
            )
            for row in csv.DictReader(handle)
        ]


def spread(samples: list[Sample], limit: int | None) -> list[Sample]:
    """`limit` samples taken evenly over the list (all of them without a limit)."""
    if limit is None or limit >= len(samples):
        return samples
    return [samples[i * len(samples) // limit] for i in range(limit)]


def fit_knn(mnist: Mnist) -> tuple[PCA, KNeighborsClassifier, float]:
    """The yardstick: 3-NN on deskewed PCA-50 pixels of MNIST's training split, with its
    accuracy on the test split."""
    train = deskew(mnist.train_images).reshape(len(mnist.train_images), -1)
    pca = PCA(50, random_state=0).fit(train)
    knn = KNeighborsClassifier(3).fit(pca.transform(train), mnist.train_labels)
    test = deskew(mnist.test_images).reshape(len(mnist.test_images), -1)
    accuracy = float((knn.predict(pca.transform(test)) == mnist.test_labels).mean())
    return pca, knn, accuracy


def net_recipe(train_digits: int) -> dict[str, object]:
    """Everything that decides the net probe's weights, as its cache records it."""
    return {
        "mnist_train_digits": train_digits,
        "hidden_layer_sizes": list(NET_HIDDEN),
        "network_input": NET_INPUT,
        "copies": NET_COPIES,
        "epochs": NET_EPOCHS,
        "fine_tune_epochs": NET_FINE_TUNE_EPOCHS,
        "batch_size": NET_BATCH,
        "random_state": NET_SEED,
    }


def _net_training_set(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs of the raw digits and of `NET_COPIES` warped copies, with their labels."""
    rng = np.random.default_rng(NET_SEED)
    n = len(images)
    copies = [deskew(images)] + [augmented_copy(images, rng) for _ in range(NET_COPIES)]
    inputs = np.concatenate([network_inputs(c.reshape(n, -1), NET_INPUT) for c in copies])
    return inputs, np.tile(labels, NET_COPIES + 1)


def fit_net(mnist: Mnist) -> NetProbe:
    """The net probe: self-training's network and schedule, on MNIST's true labels."""
    with threadpool_limits(NET_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inputs, targets = _net_training_set(mnist.train_images, mnist.train_labels)
        net = MLPClassifier(
            NET_HIDDEN,
            batch_size=min(NET_BATCH, len(inputs)),
            max_iter=NET_EPOCHS,
            early_stopping=False,
            warm_start=True,
            random_state=NET_SEED,
        ).fit(inputs, targets)
        if NET_FINE_TUNE_EPOCHS:
            rate = net.learning_rate_init / 10
            net.set_params(max_iter=NET_FINE_TUNE_EPOCHS, learning_rate_init=rate)
            net.fit(inputs, targets)
    return NetProbe(list(net.coefs_), list(net.intercepts_))


def save_net(path: Path, probe: NetProbe, recipe: dict[str, object]) -> None:
    """Plain arrays and the recipe as JSON, written whole or not at all."""
    arrays: dict[str, Any] = {"recipe": np.array(json.dumps(recipe, sort_keys=True))}
    arrays |= {f"weight_{i}": w for i, w in enumerate(probe.weights)}
    arrays |= {f"bias_{i}": b for i, b in enumerate(probe.biases)}
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        np.savez(handle, **arrays)
    partial.replace(path)


def load_net(path: Path, recipe: dict[str, object]) -> NetProbe:
    """The cached probe, if it was fitted with `recipe`; never runs code from the file."""
    with np.load(path, allow_pickle=False) as cached:
        found = json.loads(str(cached["recipe"]))
        if found != recipe:
            raise ProbeCacheError(
                f"probe cache {path} was made with {found}, this run needs {recipe}: "
                "delete it or give another --probe-cache"
            )
        layers = range(len(NET_HIDDEN) + 1)
        return NetProbe(
            [cached[f"weight_{i}"] for i in layers], [cached[f"bias_{i}"] for i in layers]
        )


def net_probe(mnist: Mnist, cache: Path | None) -> tuple[NetProbe, str]:
    """The net probe from `cache` if it exists, else fitted (and saved there); how it came."""
    recipe = net_recipe(len(mnist.train_images))
    if cache is not None and cache.exists():
        return load_net(cache, recipe), f"read from {cache}"
    start = time.perf_counter()
    probe = fit_net(mnist)
    origin = f"fitted in {time.perf_counter() - start:.0f} s"
    if cache is not None:
        save_net(cache, probe, recipe)
        origin += f", saved to {cache}"
    return probe, origin


def stroke_pieces(image: np.ndarray) -> int:
    """Pieces of ink (8-connected pixels >= INK) in a 28x28 image, specks aside."""
    labels, count = ndimage.label(image >= INK, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return int((sizes >= SPECK).sum())


def preprocess(samples: list[Sample]) -> None:
    """Each sample's 28x28 image and its pieces of ink, or why `to_mnist` refused it."""
    for sample in samples:
        try:
            sample.image = to_mnist(sample.path.read_bytes())
        except PreprocessError as exc:
            sample.refused = str(exc)
            continue
        sample.pieces = stroke_pieces(sample.image)


def run(samples: list[Sample], model_path: str, mnist: Mnist, cache: Path | None) -> ProbeScores:
    """Fill in each sample's 28x28, cluster, answer and probe readings; the probes' MNIST scores."""
    model = load_model(model_path)
    mapping = {int(c): int(d) for c, d in model.metadata["cluster_to_digit"].items()}
    preprocess(samples)
    pca, knn, knn_mnist = fit_knn(mnist)
    net, origin = net_probe(mnist, cache)
    net_mnist = float((net.read(mnist.test_images) == mnist.test_labels).mean())
    kept = [s for s in samples if s.image is not None]
    if kept:
        images = np.stack([s.image for s in kept if s.image is not None])
        clusters = model.assign(images).clusters
        knn_readings = knn.predict(pca.transform(deskew(images).reshape(len(images), -1)))
        net_readings = net.read(images)
        for sample, cluster, by_knn, by_net in zip(
            kept, clusters, knn_readings, net_readings, strict=True
        ):
            sample.cluster, sample.answer = int(cluster), mapping[cluster]
            sample.knn, sample.net = int(by_knn), int(by_net)
    return ProbeScores(knn_mnist, net_mnist, origin, len(mnist.test_images))


def print_tables(samples: list[Sample], scores: ProbeScores) -> None:
    """Shares by source, kind, digit and set; both probes' MNIST scores; two confusions; the
    refusals."""
    print(f"{'group':<24}{'n':>5}{'clusters':>10}{'kNN':>8}{'net':>8}{'pieces':>8}{'refused':>9}")
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[f"source {s.source}"].append(s)
        groups[f"kind {s.kind}"].append(s)
        groups[f"digit {s.digit}"].append(s)
        groups["set crops" if s.cropped else "set whole photos"].append(s)
    for name in sorted(groups, key=lambda g: (g.split()[0] != "source", g.split()[0], g)):
        _row(name, groups[name])
    _row("overall", samples)
    split = f"{scores.test_digits:,} MNIST test digits"
    print(f"(the kNN probe reads {scores.knn:.1%} of {split})")
    print(f"(the net probe reads {scores.net:.2%} of {split}; {scores.net_origin})")
    print_confusion(samples, "clusters' answer", lambda s: s.answer)
    print_confusion(samples, "net probe's reading", lambda s: s.net)
    for s in samples:
        if s.refused:
            print(f"refused {s.path.name} ({s.digit}): {s.refused}")


def _row(name: str, group: list[Sample]) -> None:
    n = len(group)
    clusters = sum(s.answer == s.digit for s in group) / n
    knn = sum(s.knn == s.digit for s in group) / n
    net = sum(s.net == s.digit for s in group) / n
    pieces = sum(s.pieces >= 2 for s in group if s.image is not None and s.answer != s.digit)
    refused = sum(bool(s.refused) for s in group)
    print(f"{name:<24}{n:>5}{clusters:>10.1%}{knn:>8.1%}{net:>8.1%}{pieces:>8}{refused:>9}")


def print_confusion(samples: list[Sample], title: str, answer: Callable[[Sample], int]) -> None:
    """Counts of each answer (columns, refused under '-') by true digit (rows)."""
    print(f"\n{title} (columns) by true digit (rows), refused under '-':")
    print("     " + "".join(f"{d:>4}" for d in range(10)) + "   -")
    for digit in range(10):
        row = [answer(s) for s in samples if s.digit == digit]
        if row:
            print(f"{digit:>4} " + "".join(f"{row.count(d):>4}" for d in (*range(10), -1)))


def contact_sheet(misses: list[Sample], columns: int = 6) -> Image.Image:
    """Each miss as the original, what `to_mnist` made of it, and a caption: true digit, the
    clusters' answer (cluster number) and both probes' readings."""
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
        answer = "refused" if s.refused else f"{s.answer} (c{s.cluster}) kNN {s.knn} net {s.net}"
        draw.text((x + 2, y + side + 4), f"{s.digit}: {answer}", fill="black")
        draw.text((x + 2, y + side + 18), f"{s.source} {s.path.stem}", fill="gray")
    return sheet


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    samples = spread(read_labels(args.data), args.limit)
    mnist = load_mnist(args.mnist).first(args.mnist_limit)
    try:
        scores = run(samples, args.model, mnist, args.probe_cache)
    except ProbeCacheError as exc:
        print(f"bench_real: {exc}", file=sys.stderr)
        return 2
    print(f"model {args.model}, {len(samples)} real images in {args.data}")
    print_tables(samples, scores)
    if args.sheet:
        misses = [s for s in samples if {s.answer, s.knn, s.net} != {s.digit}]
        contact_sheet(misses).save(args.sheet)
        print(f"\n{len(misses)} misses (of the clusters or a probe) drawn in {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
