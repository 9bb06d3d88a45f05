"""Scoring a clustering against MNIST's labels: labels are used here and nowhere in training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

__all__ = ["ClusterScores", "contingency", "match_clusters", "score_clustering"]


def contingency(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """Counts of each (a, b) pair, shape (n_a, n_b)."""
    table = np.zeros((n_a, n_b), dtype=np.int64)
    np.add.at(table, (np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp)), 1)
    return table


def match_clusters(table: np.ndarray) -> dict[int, int]:
    """Hungarian matching of rows to columns that maximises the matched counts.

    Rows left unmatched (more clusters than columns) go to their most frequent column.
    """
    rows, cols = linear_sum_assignment(-table)
    mapping = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    for r in range(table.shape[0]):
        mapping.setdefault(r, int(table[r].argmax()))
    return mapping


@dataclass(frozen=True)
class ClusterScores:
    """How well clusters agree with the digits.

    Attributes
    ----------
    acc : float
        Accuracy after the best one-to-one cluster→digit matching (Hungarian).
    nmi, ari : float
    cluster_to_digit : dict of int to int
    confusion : ndarray of shape (n_clusters, 10)
        Row c counts the true digits of the images in cluster c.
    sizes : list of int
    purity : list of float
        Share of each cluster's images that are its matched digit.
    """

    acc: float
    nmi: float
    ari: float
    cluster_to_digit: dict[int, int]
    confusion: np.ndarray
    sizes: list[int]
    purity: list[float]

    def as_dict(self) -> dict[str, object]:
        return {
            "acc": self.acc,
            "nmi": self.nmi,
            "ari": self.ari,
            "cluster_to_digit": {str(c): d for c, d in self.cluster_to_digit.items()},
            "cluster_sizes": self.sizes,
            "cluster_purity": self.purity,
            "confusion": self.confusion.tolist(),
        }


def score_clustering(labels: np.ndarray, clusters: np.ndarray, n_clusters: int) -> ClusterScores:
    """Score `clusters` (n,) against true digit `labels` (n,)."""
    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    if labels.shape != clusters.shape:
        raise ValueError(f"labels {labels.shape} and clusters {clusters.shape} differ in shape")
    table = contingency(clusters, labels, n_clusters, 10)
    mapping = match_clusters(table)
    rows, cols = linear_sum_assignment(-table)
    acc = float(table[rows, cols].sum() / max(len(labels), 1))
    sizes = table.sum(axis=1)
    purity = [
        float(table[c, mapping[c]] / sizes[c]) if sizes[c] else 0.0 for c in range(n_clusters)
    ]
    return ClusterScores(
        acc=acc,
        nmi=float(normalized_mutual_info_score(labels, clusters)),
        ari=float(adjusted_rand_score(labels, clusters)),
        cluster_to_digit=mapping,
        confusion=table,
        sizes=[int(s) for s in sizes],
        purity=purity,
    )
