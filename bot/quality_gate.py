"""Whether a freshly trained model may replace the one serving.

With the MNIST files present the trainer measures accuracy on the MNIST test split: it must
reach the minimum and stay within a margin of the serving model's, so that a retraining never
trades a good model for a merely passable one. Without them there are no labels, so the gate
asks two unsupervised questions: are the clusters reasonably balanced, and does the new model
call no more of a probe set (users' images plus the current model's representative samples)
outliers than the current one does. Either way, the new model may move only so many of the
stored images to another cluster: what users were told must not change wholesale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import MNIST_SIDE
from model.serving.modelfile import DigitModel


@dataclass(frozen=True)
class GateDecision:
    """The verdict and a sentence saying why, for the push and the retrain record."""

    accepted: bool
    reason: str


@dataclass(frozen=True)
class QualityGate:
    """Thresholds of the gate.

    `min_acc` applies when accuracy was measured (RETRAIN_MIN_ACC), and `acc_margin` below
    the serving model's own measured accuracy (RETRAIN_ACC_MARGIN). `min_cluster_share`
    is the smallest cluster's size relative to a perfectly balanced one; MNIST's rarest
    digit is about 0.9 of balanced, a collapsed cluster is near 0. `max_outlier_increase`
    is how many more percentage points of the probe set may become outliers. `max_moved` is
    the share of stored images the new model may put in another cluster (RETRAIN_MAX_MOVED).
    """

    min_acc: float = 0.97
    acc_margin: float = 0.002
    min_cluster_share: float = 0.25
    max_outlier_increase: float = 0.05
    max_moved: float = 0.10

    def judge(
        self,
        *,
        metrics: dict[str, float] | None,
        cluster_sizes: list[int],
        new: DigitModel,
        current: DigitModel,
        probe: np.ndarray,
        stored: np.ndarray,
    ) -> GateDecision:
        """Decide on `new`; `probe` is (n, 28, 28) uint8 and only used without metrics,
        `stored` the users' images (m, 28, 28) uint8.

        Blocking (it runs both models on the images): call it from a worker thread.
        """
        verdict = self._measured(metrics, current) if metrics is not None else None
        if verdict is None:
            verdict = self._unsupervised(cluster_sizes, new, current, probe)
        if not verdict.accepted or not len(stored):
            return verdict
        moved = float((new.assign(stored).clusters != current.assign(stored).clusters).mean())
        if moved > self.max_moved:
            return GateDecision(
                False,
                f"{moved:.1%} of the stored images would change cluster "
                f"(at most {self.max_moved:.1%})",
            )
        return GateDecision(True, f"{verdict.reason}; {moved:.1%} of stored images move")

    def _measured(self, metrics: dict[str, float], current: DigitModel) -> GateDecision:
        acc = float(metrics["acc"])
        if acc < self.min_acc:
            return GateDecision(False, f"ACC {acc:.1%} is below the {self.min_acc:.1%} minimum")
        serving = current.metadata.get("metrics", {}).get("acc")
        if serving is not None and acc < float(serving) - self.acc_margin:
            return GateDecision(
                False,
                f"ACC {acc:.2%} is below the serving model's {float(serving):.2%} "
                f"by more than {self.acc_margin:.2%}",
            )
        return GateDecision(True, f"ACC {acc:.1%} on the MNIST test split")

    def _unsupervised(
        self, cluster_sizes: list[int], new: DigitModel, current: DigitModel, probe: np.ndarray
    ) -> GateDecision:
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
    return np.concatenate([user_images.reshape(-1, MNIST_SIDE, MNIST_SIDE), *samples]).astype(
        np.uint8
    )
