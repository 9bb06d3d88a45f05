"""The figures of one training run, as `python -m model train --json` prints them.

The trainer writes this record and the bot, which runs the trainer in a child process, reads
it back; so this module imports nothing heavy (the bot's process never loads scikit-learn).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainingReport:
    """What a training run made and how it went: the model file and its figures.

    `metrics` (acc, nmi, ari on MNIST's test split) is None when there were no labels;
    `changed_answers` counts the test answers that differ from the previous model's (None
    without one); `peak_rss_mb` is the trainer's peak memory (None when not measured).
    """

    path: Path
    version: str
    duration_s: float
    n_train: int
    n_extra: int
    metrics: dict[str, float] | None
    cluster_sizes: list[int]
    changed_answers: int | None
    peak_rss_mb: int | None = None

    def to_json(self) -> str:
        """The one JSON line the trainer prints."""
        return json.dumps({**asdict(self), "path": str(self.path)})

    @classmethod
    def from_json(cls, line: str) -> TrainingReport:
        """Parse the trainer's JSON line; ValueError when it is not the expected shape."""
        try:
            data: dict[str, Any] = json.loads(line)
            peak = data.get("peak_rss_mb")
            return cls(
                path=Path(data["path"]),
                version=str(data["version"]),
                duration_s=float(data["duration_s"]),
                n_train=int(data["n_train"]),
                n_extra=int(data["n_extra"]),
                metrics=data.get("metrics"),
                cluster_sizes=[int(size) for size in data["cluster_sizes"]],
                changed_answers=data.get("changed_answers"),
                peak_rss_mb=None if peak is None else int(peak),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(str(exc)) from None
