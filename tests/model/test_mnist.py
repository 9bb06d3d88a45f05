"""The MNIST loader: standard files load; missing, truncated or altered ones fail clearly."""

from __future__ import annotations

import gzip
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from model.__main__ import main as model_cli
from model.mnist import (
    MNIST_FILES,
    Mnist,
    MnistError,
    download_mnist,
    load_mnist,
    resolve_mnist_dir,
)


@pytest.fixture
def http_file_server() -> Iterator[Callable[[dict[str, bytes]], str]]:
    """Serve a dict of files over HTTP on 127.0.0.1; returns the base URL."""
    servers: list[ThreadingHTTPServer] = []

    def serve(files: dict[str, bytes]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = files.get(self.path.lstrip("/"))
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield serve
    for server in servers:
        server.shutdown()


def _copy(mnist_dir: Path, target: Path) -> Path:
    for spec in MNIST_FILES.values():
        shutil.copy(mnist_dir / spec.name, target / spec.name)
        (target / spec.name).chmod(0o644)
    return target


def test_standard_files_load_with_their_shapes(mnist) -> None:
    assert mnist.train_images.shape == (60000, 28, 28)
    assert mnist.test_images.shape == (10000, 28, 28)
    assert mnist.train_images.dtype == np.uint8
    counts = np.bincount(mnist.test_labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_directory_resolution_prefers_flag_then_env(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert resolve_mnist_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_mnist_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_DIR")
    assert resolve_mnist_dir(None) == Path("data/mnist")


def test_missing_file_is_named(mnist_dir, tmp_path) -> None:
    _copy(mnist_dir, tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistError, match=r"t10k-labels-idx1-ubyte\.gz is missing"):
        load_mnist(tmp_path)


def test_truncated_file_fails_its_checksum(mnist_dir, tmp_path) -> None:
    _copy(mnist_dir, tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(
        MnistError, match=r"train-images-idx3-ubyte\.gz has MD5 .* expected f68b3c2d"
    ):
        load_mnist(tmp_path)


def test_a_different_file_under_the_right_name_is_rejected(mnist_dir, tmp_path) -> None:
    _copy(mnist_dir, tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 100))
    with pytest.raises(MnistError, match=r"t10k-images-idx3-ubyte\.gz"):
        load_mnist(tmp_path)


def test_cli_reports_a_missing_directory_in_one_line(tmp_path, capsys) -> None:
    code = model_cli(["evaluate", "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_download_failure_keeps_nothing_and_says_why(tmp_path) -> None:
    # No internet here: a refused local port stands in for an unreachable mirror.
    with pytest.raises(MnistError, match=r"Could not download train-images-idx3-ubyte\.gz"):
        download_mnist(tmp_path, mirrors=("http://127.0.0.1:9/",), timeout=2)
    assert not [p for p in tmp_path.iterdir() if p.is_file()]


def test_download_rejects_a_wrong_checksum_and_skips_good_files(
    mnist_dir, tmp_path, http_file_server
) -> None:
    _copy(mnist_dir, tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"not mnist")
    served = http_file_server({"t10k-labels-idx1-ubyte.gz": b"still not mnist"})
    with pytest.raises(MnistError, match=r"has MD5 .* expected ec29112d"):
        download_mnist(tmp_path, mirrors=(served,), timeout=5)
    assert bad.read_bytes() == b"not mnist"
    served = http_file_server(
        {"t10k-labels-idx1-ubyte.gz": (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()}
    )
    download_mnist(tmp_path, mirrors=(served,), timeout=5)
    assert load_mnist(tmp_path).test_labels.shape == (10000,)


def test_first_keeps_the_first_digits_of_both_splits_and_none_keeps_all(mnist: Mnist) -> None:
    head = mnist.first(100)
    assert head.train_images.shape == (100, 28, 28)
    assert head.test_labels.shape == (100,)
    assert np.array_equal(head.test_images, mnist.test_images[:100])
    assert mnist.first(None) is mnist
