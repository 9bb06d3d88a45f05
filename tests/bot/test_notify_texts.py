"""Push texts: the first line tells the story, figures are the ones given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import pushes
from bot.storage import Accuracy, StatusReport
from model.learning.report import TrainingReport

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _report(**changes: object) -> StatusReport:
    fields: dict = {
        "since": NOW - timedelta(days=1),
        "photos": 42,
        "active_users": 7,
        "per_cluster": {3: 5, 0: 12},
        "outliers": 2,
        "accuracy": Accuracy(feedback=10, matching=9),
        "original_bytes": 1_234_567,
        "retrains": [],
    }
    fields.update(changes)
    return StatusReport(**fields)


def test_retrain_finished_shows_quality_size_and_changes() -> None:
    text = pushes.retrain_finished(
        TrainingReport(
            path=Path("run-1.npz"),
            version="20261125T194000Z-3f2a1b",
            duration_s=252.4,
            n_train=60000,
            n_extra=132,
            metrics={"acc": 0.9761, "nmi": 0.9312, "ari": 0.95},
            cluster_sizes=[5923, 6742],
            changed_answers=41,
        )
    ).text
    first, second, third = text.splitlines()
    assert first == "✅ Retrained in 4m12s: ACC 97.6% · NMI 93.1% · 41 answers would change"
    assert second == "60,000 MNIST + 132 user images · model 20261125T194000Z-3f2a1b"
    assert third == "cluster sizes: 5,923 / 6,742"


def test_retrain_finished_without_labels_says_so() -> None:
    text = pushes.retrain_finished(
        TrainingReport(
            path=Path("run-1.npz"),
            version="v",
            duration_s=5,
            n_train=3000,
            n_extra=0,
            metrics=None,
            cluster_sizes=[1, 2],
            changed_answers=None,
        )
    ).text
    assert text.splitlines()[0] == "✅ Retrained in 5s: no labels to measure"


def test_status_report_lists_the_figures() -> None:
    text = pushes.status_report(
        _report(), now=NOW, model_version="20261125T194000Z-3f2a1b", failed_pushes=3
    ).text
    assert text.splitlines() == [
        "📊 42 photos from 7 users in 24h · live accuracy 90% (10 answers rated)",
        "per cluster: 0:12 3:5 · outliers 2",
        "model 20261125T194000Z-3f2a1b · 1.2 MB stored · 3 pushes failed",
    ]


def test_status_report_without_feedback_or_photos() -> None:
    text = pushes.status_report(
        _report(
            photos=0, active_users=0, per_cluster={}, accuracy=Accuracy(0, 0), original_bytes=0
        ),
        now=NOW,
        model_version="v",
        failed_pushes=0,
    ).text
    assert text.splitlines() == [
        "📊 0 photos from 0 users in 24h · no feedback yet",
        "per cluster: none · outliers 2",
        "model v · 0 B stored",
    ]


def test_short_lines_for_start_stop_failure_and_rejection() -> None:
    assert pushes.retrain_started("admin 123").text == "🔄 Retraining started (admin 123)"
    assert pushes.bot_started("v1").text == "▶️ Digit bot started · model v1"
    assert pushes.bot_stopped().text == "⏹ Digit bot stopped"
    assert pushes.retrain_failed("bad data").text.endswith("current model kept: bad data")
    assert pushes.retrain_rejected("ACC 50.0% is below").text.startswith("⚠️ New model rejected")
