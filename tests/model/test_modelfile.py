"""The model file: round trip, pickle-free loading, and corrupt or tampered files refused."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.serving.features import deskew
from model.serving.modelfile import (
    FORMAT_VERSION,
    DigitModel,
    ModelFileError,
    load_model,
    save_model,
)
from model.serving.network import network_forward, squared_distances
from testkit import ROOT


@pytest.fixture(scope="module")
def shipped(model_path: Path) -> DigitModel:
    return load_model(model_path)


def test_shipped_model_is_small_and_complete(model_path: Path, shipped: DigitModel) -> None:
    assert model_path.stat().st_size <= 10 * 1024 * 1024
    meta = shipped.metadata
    for key in ("version", "trained_at", "n_train", "data_sha256", "libraries", "metrics", "k"):
        assert key in meta, key
    assert meta["format_version"] == FORMAT_VERSION
    assert shipped.k == meta["k"] == len(shipped.centroids)
    for c in range(shipped.k):
        samples = shipped.samples(c)
        assert samples.shape[0] >= 16
        assert samples.shape[1:] == (28, 28)
        assert samples.dtype == np.uint8
        assert samples.reshape(len(samples), -1).max(axis=1).min() > 0  # no blank tiles


def test_round_trip_keeps_every_array_and_the_answers(
    shipped: DigitModel, mnist, tmp_path: Path
) -> None:
    path = save_model(shipped, tmp_path / "copy.npz")
    again = load_model(path)
    for name, array in shipped.arrays().items():
        np.testing.assert_array_equal(again.arrays()[name], array, err_msg=name)
    assert again.metadata == shipped.metadata
    a, b = shipped.assign(mnist.test_images[:500]), again.assign(mnist.test_images[:500])
    np.testing.assert_array_equal(a.clusters, b.clusters)
    np.testing.assert_allclose(a.distances, b.distances)
    assert path.stat().st_mode & 0o777 == 0o600


def test_assignments_are_consistent(shipped: DigitModel, mnist) -> None:
    a = shipped.assign(mnist.test_images[:300])
    assert a.clusters.shape == a.distances.shape == a.typicality.shape == a.is_outlier.shape
    assert ((a.typicality >= 0) & (a.typicality <= 1)).all()
    assert a.is_outlier.mean() < 0.05
    one = shipped.assign(mnist.test_images[7])
    assert one.clusters[0] == a.clusters[7]
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\)"):
        shipped.assign(np.zeros((3, 32, 32), dtype=np.uint8))
    with pytest.raises(IndexError, match="does not exist"):
        shipped.samples(shipped.k)


def test_tampered_array_is_detected(model_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "tampered.npz"
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["centroids"] = arrays["centroids"] + 0.5
    np.savez(target, **arrays)
    with pytest.raises(ModelFileError, match="corrupt or was modified"):
        load_model(target)


def test_tampered_metadata_is_detected(model_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "tampered.npz"
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["metadata"].tobytes())
    meta["metrics"] = {"acc": 1.0, "nmi": 1.0, "ari": 1.0}
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(target, **arrays)
    with pytest.raises(ModelFileError, match="corrupt or was modified"):
        load_model(target)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable model archive"),
        (b"definitely not a zip file", "not a readable model archive"),
    ],
)
def test_garbage_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_truncated_file_is_refused(model_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    data = model_path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nowhere\.npz does not exist"):
        load_model(tmp_path / "nowhere.npz")


def _restore(marker: str, array: np.ndarray) -> np.ndarray:
    """What unpickling the tampered array calls: code from the file, then the genuine array."""
    os.mkdir(marker)
    return array


class _PickledArray:
    """Pickles as a call of `_restore`, which hands back the genuine array."""

    def __init__(self, marker: Path, array: np.ndarray) -> None:
        self.marker, self.array = marker, array

    def __reduce__(self) -> tuple[object, tuple[str, np.ndarray]]:
        return _restore, (str(self.marker), self.array)


def test_pickled_arrays_are_never_loaded(model_path: Path, tmp_path: Path) -> None:
    """The shipped model's arrays, one of them stored as a pickle that yields the same array.

    Read with pickle allowed, this file would load as a good model (checksum and all) after
    running the pickle's code; only `allow_pickle=False` stands in the way.
    """
    path, marker = tmp_path / "pickled.npz", tmp_path / "code-ran"
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as member:
                if name != "centroids":
                    np.lib.format.write_array(member, array)
                    continue
                header = {"descr": "|O", "fortran_order": False, "shape": array.shape}
                np.lib.format.write_array_header_1_0(member, header)
                pickle.dump(_PickledArray(marker, array), member)

    with pytest.raises(ModelFileError, match=r"not a readable model archive.*allow_pickle"):
        load_model(path)
    assert not marker.exists()


def test_other_format_versions_are_refused(model_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "future.npz"
    with np.load(model_path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["metadata"].tobytes())
    meta["format_version"] = FORMAT_VERSION + 1
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(target, **arrays)
    with pytest.raises(ModelFileError, match="format version"):
        load_model(target)


def test_a_version_1_file_still_loads_and_assigns_as_it_did(mnist) -> None:
    """The model shipped before format 2 (its network read pixels): it loads, reads pixels,
    and scores what its metadata says, its decayed weights dropped with no answer changed."""
    path = ROOT / "tests" / "data" / "model-v1.npz"
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["metadata"].tobytes())
        stored = [archive[f"layer{i}_weight"] for i in range(3)]
    assert meta["format_version"] == 1
    assert "network_input" not in meta
    old = load_model(path)
    assert old.network.reads == "pixels"
    tiny = np.finfo(np.float32).tiny
    assert any(((W != 0) & (np.abs(W) < tiny)).any() for W in stored)  # subnormal, as trained
    assert not any(((W != 0) & (np.abs(W) < 1e-20)).any() for W in old.network.weights)

    clusters = old.assign(mnist.test_images).clusters
    mapping = {int(c): d for c, d in meta["cluster_to_digit"].items()}
    acc = np.mean([mapping[int(c)] == d for c, d in zip(clusters, mnist.test_labels, strict=True)])
    assert acc == pytest.approx(meta["metrics"]["acc"], abs=1e-4)
    flat = deskew(mnist.test_images).reshape(len(mnist.test_images), -1)
    with_stored = network_forward(flat, stored, old.network.biases)
    unchanged = squared_distances(with_stored, old.centroids).argmin(axis=1)
    np.testing.assert_array_equal(unchanged, clusters)


def test_a_network_reading_what_this_program_lacks_is_refused(shipped: DigitModel) -> None:
    with pytest.raises(ModelFileError, match="reads 'strokes'"):
        replace(shipped, network=replace(shipped.network, reads="strokes"))
    other = "pixels" if shipped.network.reads == "orientations" else "orientations"
    with pytest.raises(ModelFileError, match=f"does not match its {other}"):
        replace(shipped, network=replace(shipped.network, reads=other))


def test_the_file_names_what_the_network_reads(shipped: DigitModel, tmp_path: Path) -> None:
    """The network's input is stored in the metadata, also for a model loaded from format 1."""
    old = load_model(ROOT / "tests" / "data" / "model-v1.npz")
    again = load_model(save_model(old, tmp_path / "v1-again.npz"))
    assert again.metadata["network_input"] == again.network.reads == "pixels"
    assert again.metadata["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(again.centroids, old.centroids)


def test_the_file_holds_the_arrays_it_always_held(shipped: DigitModel, tmp_path: Path) -> None:
    with np.load(save_model(shipped, tmp_path / "copy.npz"), allow_pickle=False) as archive:
        names = set(archive.files)
    layers = {f"layer{i}_{part}" for i in range(3) for part in ("weight", "bias")}
    statistics = {"distance_quantiles", "spread_scale", "cluster_means", "pca_mean"}
    statistics |= {"pca_components", "residual_scale", "outlier_limit"}
    assert names == {"metadata", "centroids", "samples"} | statistics | layers
