"""The texts of the pushes: a first line that tells the story on a phone's lock screen.

Every function returns plain text (notify.run shows no markup); details follow on later
lines for whoever opens the notification.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.storage.records import StatusReport


def bot_started(model_version: str) -> str:
    """The bot came up and serves `model_version`."""
    return f"▶️ Digit bot started · model {model_version}"


def bot_stopped() -> str:
    """The bot is shutting down cleanly (a crash sends nothing, hence the status report)."""
    return "⏹ Digit bot stopped"


def retrain_started(trigger: str) -> str:
    """Who or what started a retraining ("schedule", "admin 123")."""
    return f"🔄 Retraining started ({trigger})"


def retrain_finished(
    *,
    version: str,
    duration_s: float,
    n_train: int,
    n_extra: int,
    metrics: Mapping[str, float] | None,
    cluster_sizes: Sequence[int],
    changed_answers: int | None,
) -> str:
    """A new model is serving: how long, on what, how good, how different."""
    quality = (
        f"ACC {metrics['acc']:.1%} · NMI {metrics['nmi']:.1%}"
        if metrics
        else "no labels to measure"
    )
    changed = f" · {changed_answers} answers would change" if changed_answers is not None else ""
    sizes = " ".join(str(size) for size in cluster_sizes)
    return (
        f"✅ Retrained in {_duration(duration_s)}: {quality}{changed}\n"
        f"{n_train} MNIST + {n_extra} user images · model {version}\n"
        f"cluster sizes: {sizes}"
    )


def retrain_failed(reason: str) -> str:
    """The run broke; the current model keeps serving."""
    return f"❌ Retraining failed, current model kept: {reason}"


def retrain_rejected(reason: str) -> str:
    """The new model did not pass the quality gate; the current model keeps serving."""
    return f"⚠️ New model rejected, current model kept: {reason}"


def mnist_downloaded(directory: str) -> str:
    """A fresh deployment had no MNIST files: they were fetched (MD5-verified) to train on."""
    return f"📥 MNIST files were missing from {directory}: downloaded, checksums verified"


def status_report(
    report: StatusReport, *, now: datetime, model_version: str, failed_pushes: int
) -> str:
    """The periodic summary: traffic, quality, model, disk and our own delivery problems."""
    accuracy = report.accuracy.share
    live = (
        f"live accuracy {accuracy:.0%} ({report.accuracy.feedback} answers rated)"
        if accuracy is not None
        else "no feedback yet"
    )
    clusters = " ".join(f"{c}:{n}" for c, n in sorted(report.per_cluster.items())) or "none"
    retrains = f" · {len(report.retrains)} retrains" if report.retrains else ""
    failed = f" · {_count(failed_pushes, 'push', 'pushes')} failed" if failed_pushes else ""
    return (
        f"📊 {report.photos} photos from {report.active_users} users in "
        f"{_duration((now - report.since).total_seconds())} · {live}\n"
        f"per cluster: {clusters} · outliers {report.outliers}\n"
        f"model {model_version} · {_size(report.original_bytes)} stored{retrains}{failed}"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 2 * 86400:
        minutes = seconds % 3600 // 60
        return f"{seconds // 3600}h{minutes:02d}m" if minutes else f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _size(n_bytes: int) -> str:
    if n_bytes < 1000:
        return f"{n_bytes} B"
    size = n_bytes / 1000
    for unit in ("kB", "MB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
