"""The four standard MNIST files: finding, verifying, reading and downloading them.

Every failure becomes one `MnistError` naming the file and what was expected, so a
user sees a sentence rather than a numpy traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "MNIST_FILES",
    "Mnist",
    "MnistError",
    "download_mnist",
    "load_mnist",
    "resolve_mnist_dir",
]

# Where the MNIST files are looked for when neither an argument nor $MNIST_DIR says.
DEFAULT_DIR = Path("data/mnist")
# Where the files are downloaded from, tried in this order.
DOWNLOAD_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


@dataclass(frozen=True)
class _MnistFile:
    name: str
    md5: str
    magic: int
    count: int


# The four files: name, MD5, IDX magic number and how many items each holds.
MNIST_FILES = {
    "train_images": _MnistFile(
        "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 2051, 60000
    ),
    "train_labels": _MnistFile(
        "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 2049, 60000
    ),
    "test_images": _MnistFile(
        "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 2051, 10000
    ),
    "test_labels": _MnistFile(
        "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 2049, 10000
    ),
}


class MnistError(ValueError):
    """An MNIST file is missing, truncated or not the standard one."""


@dataclass(frozen=True)
class Mnist:
    """The MNIST splits. Labels are kept only to score a clustering, never to learn it.

    Attributes
    ----------
    train_images : ndarray of shape (60000, 28, 28), uint8
    train_labels : ndarray of shape (60000,), uint8
    test_images : ndarray of shape (10000, 28, 28), uint8
    test_labels : ndarray of shape (10000,), uint8
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def first(self, limit: int | None) -> Mnist:
        """The first `limit` training and test digits (all of them for None): a quick run."""
        if limit is None:
            return self
        return Mnist(
            self.train_images[:limit],
            self.train_labels[:limit],
            self.test_images[:limit],
            self.test_labels[:limit],
        )


def resolve_mnist_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--data DIR`, else `$MNIST_DIR`, else `data/mnist/`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("MNIST_DIR")
    return Path(env) if env else DEFAULT_DIR


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, spec: _MnistFile) -> None:
    if not path.is_file():
        raise MnistError(
            f"MNIST file {spec.name} is missing from {path.parent}; "
            f"run `python -m model download {path.parent}` or point --data/MNIST_DIR at the "
            "directory holding the four standard files."
        )
    actual = _md5(path)
    if actual != spec.md5:
        raise MnistError(
            f"MNIST file {path} has MD5 {actual}, expected {spec.md5}: it is truncated, "
            "corrupt or not the standard file; download it again."
        )


def _read_idx(path: Path, spec: _MnistFile) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise MnistError(f"MNIST file {path} is not a readable gzip file ({exc}).") from exc
    header_len = 16 if spec.magic == 2051 else 8
    if len(raw) < header_len:
        raise MnistError(f"MNIST file {path} is too short to hold an IDX header.")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != spec.magic or count != spec.count:
        raise MnistError(
            f"MNIST file {path} has IDX magic {magic} and {count} items, "
            f"expected magic {spec.magic} and {spec.count} items."
        )
    shape: tuple[int, ...] = (count,)
    if spec.magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        shape = (count, rows, cols)
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if data.size != int(np.prod(shape)):
        raise MnistError(f"MNIST file {path} is truncated: {data.size} bytes of pixel data.")
    return data.reshape(shape)


def load_mnist(directory: str | os.PathLike[str] | None = None) -> Mnist:
    """Read and checksum the four standard MNIST files from `directory`.

    Raises
    ------
    MnistError
        When a file is missing, truncated or differs from the standard distribution.
    """
    root = resolve_mnist_dir(directory)
    arrays = {}
    for key, spec in MNIST_FILES.items():
        path = root / spec.name
        _verify(path, spec)
        arrays[key] = _read_idx(path, spec)
    return Mnist(**arrays)


def download_mnist(
    directory: str | os.PathLike[str] | None = None,
    *,
    mirrors: tuple[str, ...] = DOWNLOAD_MIRRORS,
    timeout: float = 30.0,
) -> Path:
    """Fetch the four files into `directory`, keeping only those whose MD5 matches.

    Files already present and correct are not fetched again. A file is written under a
    temporary name and moved into place only once its checksum is right.
    """
    root = resolve_mnist_dir(directory)
    root.mkdir(parents=True, exist_ok=True)
    for spec in MNIST_FILES.values():
        target = root / spec.name
        if target.is_file() and _md5(target) == spec.md5:
            continue
        errors = []
        for mirror in mirrors:
            try:
                _fetch(mirror + spec.name, target, spec, timeout)
                break
            except (OSError, MnistError) as exc:
                errors.append(f"{mirror}: {exc}")
        else:
            raise MnistError(f"Could not download {spec.name}: " + "; ".join(errors))
    return root


def _fetch(url: str, target: Path, spec: _MnistFile, timeout: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise MnistError(f"Refusing to download from {url}: only http(s) mirrors are allowed.")
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                shutil.copyfileobj(response, tmp)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
    actual = _md5(tmp_path)
    if actual != spec.md5:
        tmp_path.unlink(missing_ok=True)
        raise MnistError(f"downloaded {spec.name} has MD5 {actual}, expected {spec.md5}")
    tmp_path.replace(target)
