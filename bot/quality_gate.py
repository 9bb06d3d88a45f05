"""Whether a freshly trained model may replace the one serving.

With the MNIST files present the trainer measures accuracy on the MNIST test split, and
that decides. Without them there are no labels, so the gate asks two unsupervised
questions: are the clusters reasonably balanced, and does the new model call no more of
a probe set (users' images plus the current model's representative samples) outliers
than the current one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.modelfile import DigitModel


@dataclass(frozen=True)
class GateDecision:
    """The verdict and a sentence saying why, for the push and the retrain record."""

    accepted: bool
    reason: str


@dataclass(frozen=True)
class QualityGate:
    """Thresholds of the gate.

    `min_acc` applies when accuracy was measured (RETRAIN_MIN_ACC). `min_cluster_share`
    is the smallest cluster's size relative to a perfectly balanced one; MNIST's rarest
    digit is about 0.9 of balanced, a collapsed cluster is near 0. `max_outlier_increase`
    is how many more percentage points of the probe set may become outliers.
    """

    min_acc: float = 0.97
    min_cluster_share: float = 0.25
    max_outlier_increase: float = 0.05

    def judge(
        self,
        *,
        metrics: dict[str, float] | None,
        cluster_sizes: list[int],
        new: DigitModel,
        current: DigitModel,
        probe: np.ndarray,
    ) -> GateDecision:
        """Decide on `new`; `probe` is (n, 28, 28) uint8 and only used without metrics.

        Blocking (it runs both models on the probe): call it from a worker thread.
        """
        if metrics is not None:
            acc = float(metrics["acc"])
            if acc < self.min_acc:
                return GateDecision(False, f"ACC {acc:.1%} is below the {self.min_acc:.1%} minimum")
            return GateDecision(True, f"ACC {acc:.1%} on the MNIST test split")
        balanced = sum(cluster_sizes) / max(1, len(cluster_sizes))
        smallest = int(np.argmin(cluster_sizes))
        if cluster_sizes[smallest] < self.min_cluster_share * balanced:
            return GateDecision(
                False,
                f"cluster {smallest} has only {cluster_sizes[smallest]} images "
                f"(a balanced one would have {balanced:.0f})",
            )
        new_outliers = float(new.assign(probe).is_outlier.mean())
        old_outliers = float(current.assign(probe).is_outlier.mean())
        if new_outliers > old_outliers + self.max_outlier_increase:
            return GateDecision(
                False,
                f"{new_outliers:.0%} of known images would be outliers (now {old_outliers:.0%})",
            )
        return GateDecision(
            True, f"balanced clusters, {new_outliers:.0%} outliers (was {old_outliers:.0%})"
        )


def probe_images(current: DigitModel, user_images: np.ndarray) -> np.ndarray:
    """The unsupervised gate's probe: users' images plus every cluster's samples."""
    samples = [current.samples(cluster) for cluster in range(current.k)]
    return np.concatenate([user_images.reshape(-1, 28, 28), *samples]).astype(np.uint8)
