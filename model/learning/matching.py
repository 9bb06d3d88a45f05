"""Stable cluster ids across retrains: "cluster 3" keeps meaning what it meant to users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.learning.evaluate import contingency
from model.serving.modelfile import DigitModel

__all__ = ["Alignment", "align_to_previous"]


@dataclass(frozen=True)
class Alignment:
    """A new model renamed to agree with the previous one.

    Attributes
    ----------
    model : DigitModel
        The new model with its clusters renumbered.
    changed_answers : int
        How many of the reference images the new model puts in a different cluster id.
    agreement : float
        Share of the reference images answered the same by both models.
    """

    model: DigitModel
    changed_answers: int
    agreement: float


def align_to_previous(new: DigitModel, previous: DigitModel, images: np.ndarray) -> Alignment:
    """Renumber `new`'s clusters so they overlap most with `previous`'s on `images`.

    Parameters
    ----------
    new, previous : DigitModel
    images : ndarray of shape (n_samples, 28, 28), uint8
        Reference images both models assign, e.g. the MNIST training split.
    """
    old_ids = previous.assign(images).clusters
    new_ids = new.assign(images).clusters
    table = contingency(new_ids, old_ids, new.k, previous.k)
    rows, cols = linear_sum_assignment(-table)
    target = np.full(new.k, -1, dtype=np.int64)
    target[rows] = cols
    unmatched = [c for c in range(new.k) if target[c] < 0]
    target[unmatched] = np.arange(previous.k, previous.k + len(unmatched))
    # Ids must stay 0..k-1: rank the targets, so a smaller k keeps the matched order.
    new_id = np.argsort(np.argsort(target))
    order = np.argsort(new_id)
    renamed = new_id[new_ids]
    changed = int((renamed != old_ids).sum())
    metadata = dict(new.metadata)
    metadata["aligned_to"] = previous.version
    metadata["changed_answers"] = changed
    if metadata.get("cluster_to_digit"):
        old_map = metadata["cluster_to_digit"]
        metadata["cluster_to_digit"] = {str(int(new_id[int(c)])): d for c, d in old_map.items()}
    for key in ("cluster_sizes", "cluster_purity"):
        if isinstance(metadata.get(key), list) and len(metadata[key]) == new.k:
            metadata[key] = [metadata[key][int(i)] for i in order]
    return Alignment(
        model=new.permuted(order, metadata),
        changed_answers=changed,
        agreement=1.0 - changed / max(len(images), 1),
    )
