"""The quality gate: accuracy when measured, balance and outliers when not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.quality_gate import QualityGate, probe_images
from model.mnist import Mnist
from model.serving.modelfile import DigitModel, load_model


@pytest.fixture(scope="module")
def current(model_path: Path) -> DigitModel:
    return load_model(model_path)


def _with_outlier_limit(model: DigitModel, factor: float) -> DigitModel:
    """The same model with its outlier limit scaled (a model that doubts more)."""
    limit = model.typicality.outlier_limit * factor
    return replace(model, typicality=replace(model.typicality, outlier_limit=limit))


NONE = np.zeros((0, 28, 28), np.uint8)


def _measured(model: DigitModel, acc: float) -> DigitModel:
    return replace(model, metadata=dict(model.metadata, metrics={"acc": acc}))


def _balanced(k: int) -> list[int]:
    return [100] * k


def test_measured_accuracy_decides(current: DigitModel) -> None:
    gate = QualityGate(min_acc=0.9)
    probe = probe_images(current, np.zeros((0, 28, 28), np.uint8))
    serving = _measured(current, 0.94)
    common = {"cluster_sizes": _balanced(current.k), "new": current, "current": serving}
    low = gate.judge(metrics={"acc": 0.85, "nmi": 0.8}, probe=probe, stored=NONE, **common)
    high = gate.judge(metrics={"acc": 0.95, "nmi": 0.9}, probe=probe, stored=NONE, **common)
    assert (low.accepted, low.reason) == (False, "ACC 85.0% is below the 90.0% minimum")
    assert (high.accepted, high.reason) == (True, "ACC 95.0% on the MNIST test split")


def test_probe_is_user_images_plus_every_clusters_samples(current: DigitModel) -> None:
    users = np.full((3, 28, 28), 255, np.uint8)
    probe = probe_images(current, users)
    samples = sum(len(current.samples(c)) for c in range(current.k))
    assert probe.shape == (3 + samples, 28, 28)
    assert probe.dtype == np.uint8
    assert (probe[:3] == 255).all()


def test_without_labels_the_same_model_passes(current: DigitModel) -> None:
    probe = probe_images(current, np.zeros((0, 28, 28), np.uint8))
    decision = QualityGate().judge(
        metrics=None,
        cluster_sizes=_balanced(current.k),
        new=current,
        current=current,
        probe=probe,
        stored=NONE,
    )
    assert decision.accepted
    assert decision.reason.startswith("balanced clusters, ")


def test_without_labels_a_collapsed_cluster_is_rejected(current: DigitModel) -> None:
    sizes = _balanced(current.k)
    sizes[3] = 5
    probe = probe_images(current, np.zeros((0, 28, 28), np.uint8))
    decision = QualityGate().judge(
        metrics=None, cluster_sizes=sizes, new=current, current=current, probe=probe, stored=NONE
    )
    assert not decision.accepted
    assert decision.reason.startswith("cluster 3 has only 5 images (a balanced one would have ")


def test_without_labels_more_outliers_are_rejected(current: DigitModel) -> None:
    doubting = _with_outlier_limit(current, 0.01)
    probe = probe_images(current, np.zeros((0, 28, 28), np.uint8))
    decision = QualityGate().judge(
        metrics=None,
        cluster_sizes=_balanced(current.k),
        new=doubting,
        current=current,
        probe=probe,
        stored=NONE,
    )
    assert not decision.accepted
    assert "of known images would be outliers" in decision.reason


def test_a_candidate_well_below_the_serving_models_accuracy_is_rejected(
    current: DigitModel,
) -> None:
    serving = _measured(current, 0.9907)
    probe = probe_images(current, NONE)
    common = {"cluster_sizes": _balanced(current.k), "new": current, "probe": probe}

    worse = QualityGate().judge(metrics={"acc": 0.972}, current=serving, stored=NONE, **common)
    close = QualityGate().judge(metrics={"acc": 0.9890}, current=serving, stored=NONE, **common)

    assert (worse.accepted, worse.reason) == (
        False,
        "ACC 97.20% is below the serving model's 99.07% by more than 0.20%",
    )
    assert close.accepted


def test_a_candidate_that_moves_many_stored_images_to_other_clusters_is_rejected(
    current: DigitModel, mnist: Mnist
) -> None:
    stored = mnist.test_images[:200]
    # The same network with two clusters swapped: the 1s and the 7s (say) trade places.
    assigned = current.assign(stored).clusters
    a, b = np.bincount(assigned, minlength=current.k).argsort()[-2:]
    order = np.arange(current.k)
    order[[a, b]] = order[[b, a]]
    swapped = current.permuted(order, dict(current.metadata, version="swapped"))
    moved = float(np.isin(assigned, [a, b]).mean())
    probe = probe_images(current, stored)
    common = {"cluster_sizes": _balanced(current.k), "current": current, "probe": probe}

    rejected = QualityGate(max_moved=moved - 0.01).judge(
        metrics={"acc": 0.99}, new=swapped, stored=stored, **common
    )
    accepted = QualityGate(max_moved=moved + 0.01).judge(
        metrics={"acc": 0.99}, new=swapped, stored=stored, **common
    )
    same = QualityGate(max_moved=0.0).judge(metrics=None, new=current, stored=stored, **common)

    assert not rejected.accepted
    assert rejected.reason.startswith(f"{moved:.1%} of the stored images would change cluster")
    assert accepted.accepted
    assert same.accepted
    assert same.reason.endswith("; 0.0% of stored images move")
