"""`python -m model`: evaluate, classify, montage and train as a user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.__main__ import main as model_cli
from model.serving.modelfile import load_model


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_evaluate_json_reports_the_shipped_metrics(
    model_path: Path, mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    confusion = tmp_path / "confusion.png"
    code = model_cli(
        [
            "evaluate",
            "--model",
            str(model_path),
            "--data",
            str(mnist_dir),
            "--json",
            "--confusion",
            str(confusion),
        ]
    )
    report = json.loads(capsys.readouterr().out)
    model = load_model(model_path)
    assert code == 0
    assert report["acc"] == pytest.approx(model.metadata["metrics"]["acc"])
    assert {"nmi", "ari"} <= report.keys()
    assert sorted(report["cluster_to_digit"]) == sorted(str(c) for c in range(model.k))
    assert sum(report["cluster_sizes"]) == 10000
    assert Image.open(confusion).size[0] > 10 * 20


def test_evaluate_prints_a_readable_table(
    model_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert model_cli(["evaluate", "--model", str(model_path), "--data", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "ACC " in out
    assert "purity" in out


def test_classify_json_answers_every_file_and_explains_the_unusable(
    model_path: Path, mnist, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "seven.png"
    good.write_bytes(_png(mnist.test_images[0]))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    missing = tmp_path / "missing.png"
    code = model_cli(
        ["classify", str(good), str(broken), str(missing), "--model", str(model_path), "--json"]
    )
    results = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["path"] for r in results] == [str(good), str(broken), str(missing)]
    expected = int(load_model(model_path).assign(mnist.test_images[:1]).clusters[0])
    assert results[0]["cluster"] == expected
    assert results[0]["distance"] >= 0
    assert "error" not in results[0]
    for unusable in results[1:]:
        assert "cluster" not in unusable
        assert unusable["error"].endswith(".")
        assert "Traceback" not in unusable["error"]


def test_montage_writes_the_cluster_samples(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cluster.png"
    assert model_cli(["montage", "2", "--out", str(out), "--model", str(model_path)]) == 0
    picture = np.asarray(Image.open(out))
    assert picture.shape[0] > 28
    assert picture.shape[1] > 28 * 4
    assert model_cli(["montage", "99", "--out", str(out), "--model", str(model_path)]) == 1
    assert "cluster 99 does not exist" in capsys.readouterr().err


def _train(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m model train ...` in its own process, as a user or the bot runs it."""
    return subprocess.run(
        [sys.executable, "-m", "model", "train", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_train_json_writes_a_model_the_bot_can_load(mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.npz"
    run = _train(
        "--data", str(mnist_dir), "--limit", "800", "--out", str(out), "--json", "--jobs", "1"
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["path"] == str(out)
    assert summary["n_train"] == 800
    assert summary["metrics"]["acc"] > 0.5
    assert summary["peak_rss_mb"] > 0
    assert load_model(out).version == summary["version"]


def test_train_refuses_malformed_extra_images_in_one_line(mnist_dir: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.npy"
    np.save(extra, np.zeros((4, 32, 32), dtype=np.uint8))
    out = tmp_path / "m.npz"
    run = _train(
        "--data", str(mnist_dir), "--limit", "300", "--extra", str(extra), "--out", str(out)
    )
    assert run.returncode == 1
    assert run.stderr.strip().startswith("error: extra images must be an array of shape")
    assert "Traceback" not in run.stderr
