"""`python -m model`: train, evaluate, classify, montage, download."""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.learning.clustering import ProgressCallback
from model.mnist import MnistError, download_mnist, load_mnist, resolve_mnist_dir
from model.serving.modelfile import Assignments, ModelFileError, load_model, save_model

SHIPPED_MODEL = Path("data/model.npz")  # the model evaluate, classify and montage read by default
MODELS_DIR = Path("data/models")  # where train writes a model when --out is not given


@contextlib.contextmanager
def _progress_bar() -> Iterator[ProgressCallback | None]:
    """A tqdm bar on a terminal; silence elsewhere (CI logs, the bot's subprocess)."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc="training", file=sys.stderr) as bar:

        def update(stage: str, fraction: float) -> None:
            bar.set_description(stage)
            bar.update(int(fraction * 100) - bar.n)

        yield update


def _load_extra(path: str | None) -> np.ndarray | None:
    """Users' images: a .npy of (n, 28, 28) uint8, or a directory of image files."""
    if path is None:
        return None
    source = Path(path)
    if source.is_dir():
        from model.serving.preprocess import PreprocessError, to_mnist

        images = []
        for file in sorted(p for p in source.iterdir() if p.is_file()):
            try:
                images.append(to_mnist(file.read_bytes()))
            except PreprocessError as exc:
                print(f"skipping {file}: {exc}", file=sys.stderr)
        return np.stack(images) if images else None
    try:
        return np.load(source, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read extra images from {source}: {exc}") from exc


def cmd_train(args: argparse.Namespace) -> int:
    from model.learning.train import train_model

    mnist = load_mnist(args.data)
    extra = _load_extra(args.extra)
    previous = load_model(args.previous) if args.previous else None
    with _progress_bar() as progress:
        result = train_model(
            mnist,
            extra=extra,
            previous=previous,
            n_clusters=args.k,
            limit=args.limit,
            random_state=args.seed,
            progress=progress,
            n_jobs=args.jobs,
        )
    out = Path(args.out) if args.out else MODELS_DIR / f"{result.model.version}.npz"
    save_model(result.model, out)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = result.report(out, peak_rss_mb=round(peak_mb))
    if args.json:
        print(report.to_json())
    else:
        metrics = report.metrics or {}
        print(f"model       {out}")
        print(f"version     {report.version}")
        print(f"trained on  {report.n_train} MNIST + {report.n_extra} extra images")
        print(f"duration    {report.duration_s} s, peak RSS {report.peak_rss_mb} MB")
        for name in ("acc", "nmi", "ari"):
            if name in metrics:
                print(f"{name.upper():<11} {metrics[name]:.4f}  (MNIST test split)")
        print(f"sizes       {report.cluster_sizes}")
        if report.changed_answers is not None:
            print(f"changed     {report.changed_answers} test answers vs --previous")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from model.learning.evaluate import score_clustering
    from model.serving.montage import confusion_image

    model = load_model(args.model)
    mnist = load_mnist(args.data)
    scores = score_clustering(mnist.test_labels, model.assign(mnist.test_images).clusters, model.k)
    if args.confusion:
        confusion_image(scores.confusion).save(args.confusion)
    if args.json:
        print(json.dumps({"model": str(args.model), "version": model.version, **scores.as_dict()}))
        return 0
    print(f"model {args.model} ({model.version}) on the MNIST test split")
    print(f"ACC {scores.acc:.4f}   NMI {scores.nmi:.4f}   ARI {scores.ari:.4f}")
    print("cluster  digit  size  purity   " + " ".join(f"{d:>5}" for d in range(10)))
    for c in range(model.k):
        row = " ".join(f"{n:>5}" for n in scores.confusion[c])
        digit, size, purity = scores.cluster_to_digit[c], scores.sizes[c], scores.purity[c]
        print(f"{c:>7}  {digit:>5}  {size:>4}  {purity:>6.3f}   {row}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from model.serving.preprocess import PreprocessError, find_digits, to_mnist

    model = load_model(args.model)
    results = []
    for path in args.images:
        entry: dict[str, object] = {"path": path}
        try:
            data = Path(path).read_bytes()
            if args.all:
                page = find_digits(data)
                a = model.assign(np.stack([d.image for d in page.digits]))
                entry["digits"] = [
                    {"box": list(d.box), **_assignment(a, i), "touching": d.touching}
                    for i, d in enumerate(page.digits)
                ]
            else:
                entry.update(_assignment(model.assign(to_mnist(data)), 0))
        except PreprocessError as exc:
            entry["error"] = str(exc)
        except OSError as exc:
            entry["error"] = f"Could not read {path}: {exc.strerror or exc}."
        results.append(entry)
    if args.json:
        print(json.dumps(results))
        return 0
    for entry in results:
        if "error" in entry:
            print(f"{entry['path']}: {entry['error']}")
        elif args.all:
            digits = entry["digits"]
            assert isinstance(digits, list)
            print(f"{entry['path']}: {len(digits)} digit{'s' if len(digits) != 1 else ''}")
            for number, digit in enumerate(digits, 1):
                print(f"  {number}. {_described(digit)} at {tuple(digit['box'])}")
        else:
            print(f"{entry['path']}: {_described(entry)}")
    return 0


def _assignment(a: Assignments, i: int) -> dict[str, object]:
    """One image's cluster, distance, typicality and outlier flag, for printing or JSON."""
    return {
        "cluster": int(a.clusters[i]),
        "distance": round(float(a.distances[i]), 4),
        "typicality": round(float(a.typicality[i]), 3),
        "outlier": bool(a.is_outlier[i]),
    }


def _described(entry: dict[str, Any]) -> str:
    note = "  (far from every cluster)" if entry["outlier"] else ""
    return f"cluster {entry['cluster']}, distance {entry['distance']}{note}"


def cmd_montage(args: argparse.Namespace) -> int:
    from model.serving.montage import grid_image

    model = load_model(args.model)
    if not 0 <= args.cluster < model.k:
        raise ValueError(f"cluster {args.cluster} does not exist; clusters are 0 to {model.k - 1}")
    grid_image(model.samples(args.cluster)).save(args.out)
    print(args.out)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    root = download_mnist(resolve_mnist_dir(args.dir))
    print(f"MNIST files verified in {root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="learn clusters from MNIST without labels")
    train.add_argument(
        "--data", help="directory of the MNIST files (default: $MNIST_DIR or data/mnist)"
    )
    train.add_argument(
        "--extra", help="extra unlabeled images: .npy (n, 28, 28) uint8 or a directory"
    )
    train.add_argument("--out", help="model file to write (default: data/models/<version>.npz)")
    train.add_argument("--previous", help="model whose cluster ids the new one keeps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--k", type=int, default=10, help="number of clusters")
    train.add_argument("--limit", type=int, help="use only the first N training images")
    train.add_argument(
        "--jobs",
        type=int,
        default=-1,
        help="UMAP threads (default: all cores; 1 makes a seed reproduce bit for bit)",
    )
    train.add_argument("--json", action="store_true", help="print one JSON summary line")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="score a model on the MNIST test split")
    evaluate.add_argument("--model", default=str(SHIPPED_MODEL))
    evaluate.add_argument("--data")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--confusion", help="write the confusion matrix as a PNG")
    evaluate.set_defaults(func=cmd_evaluate)

    classify = sub.add_parser("classify", help="assign image files to clusters")
    classify.add_argument("images", nargs="+")
    classify.add_argument("--model", default=str(SHIPPED_MODEL))
    classify.add_argument("--json", action="store_true")
    classify.add_argument(
        "--all", action="store_true", help="every digit of each image, in reading order"
    )
    classify.set_defaults(func=cmd_classify)

    montage = sub.add_parser("montage", help="a cluster's representative samples as one image")
    montage.add_argument("cluster", type=int)
    montage.add_argument("--out", required=True)
    montage.add_argument("--model", default=str(SHIPPED_MODEL))
    montage.set_defaults(func=cmd_montage)

    download = sub.add_parser("download", help="fetch the MNIST files and verify their MD5s")
    download.add_argument("dir", nargs="?")
    download.set_defaults(func=cmd_download)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (MnistError, ModelFileError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
