"""What the bot says to its admins: /name, /retrain, the admins' /stats, and the words drawn
in their pictures (bot/admin_pictures.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.i18n import N_, moment, number, percent, plural, say
from bot.texts.info import per_cluster_counts

if TYPE_CHECKING:
    from bot.meanings import ClusterAnswers


NAME_MAX_LENGTH = 32  # the longest cluster name /name accepts

ADMIN_ONLY = N_("Sorry, only the bot's admins can use that command.")

NAME_USAGE = N_(
    "Send /name N TEXT to name cluster N (0 to {last}); the name may be up to {longest} characters."
)

RETRAIN_STARTED = N_("Retraining started. I will report here when it has finished.")

RETRAIN_BUSY = N_("A retraining is already running; I will report when it has finished.")

NEVER = N_("never")

# How a retraining run ended, as recorded by bot/retrain.py.
RUN_RESULTS = {
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "rejected": N_("rejected"),
    "running": N_("running"),
}

# Words drawn in the admins' pictures (bot/admin_pictures.py).
PHOTOS_PER_DAY = N_("Photos per day and cluster, last {days} days")

OUTLIERS = N_("outliers")

FEEDBACK_MATRIX = N_("What users said it was: cluster × digit, count and share of the row")

CLUSTER = N_("cluster")

DIGIT_SAID = N_("digit said")

TRUE_DIGIT = N_("true digit, MNIST test split")

TYPICAL_MEMBERS = N_("16 most typical members")

MODEL = N_("Model {version}")

NO_TEST_SPLIT = N_("No MNIST test split here to measure it on")


def cluster_named(lang: str, cluster: int, name: str) -> str:
    """Confirms /name."""
    return say(lang, N_("Cluster {cluster} is now called “{name}”."), cluster=cluster, name=name)


def name_usage(lang: str, k: int) -> str:
    """How to use /name, with this model's cluster numbers."""
    return say(lang, NAME_USAGE, last=k - 1, longest=NAME_MAX_LENGTH)


def global_stats(
    lang: str,
    images: int,
    users: int,
    today: int,
    per_cluster: Mapping[int, int],
    accuracy: float | None,
    feedback: int,
    last_retrain: str,
) -> str:
    """An admin's /stats: totals across all users."""
    live = (
        plural(
            lang,
            "{share} of {count} answer match their cluster",
            "{share} of {count} answers match their cluster",
            feedback,
            share=percent(lang, accuracy, 1),
        )
        if accuracy is not None
        else say(lang, N_("no feedback yet"))
    )
    photos = plural(lang, "{count} photo", "{count} photos", images)
    people = plural(lang, "{count} user", "{count} users", users)
    counts = per_cluster_counts(lang, per_cluster) or say(lang, N_("none yet"))
    return "\n".join(
        [
            say(
                lang,
                N_("All users: {photos} from {users}, {today} today."),
                photos=photos,
                users=people,
                today=number(lang, today),
            ),
            say(lang, N_("By cluster: {counts}."), counts=counts),
            say(lang, N_("Live accuracy: {live}."), live=live),
            say(lang, N_("Last retraining: {run}."), run=last_retrain),
        ]
    )


def answers_per_cluster(lang: str, tallies: Sequence[ClusterAnswers]) -> str:
    """An admin's view of what users say each cluster is, and which replies say so."""
    if not tallies:
        return say(lang, N_("What users say the clusters are: no answers yet."))
    lines = [say(lang, N_("What users say the clusters are (shown in replies: ✓):"))]
    for one in tallies:
        people = plural(lang, "{count} person", "{count} people", one.users)
        lines.append(
            plural(
                lang,
                "{mark} cluster {cluster}: {digit}s, {share} of {count} answer from {people}",
                "{mark} cluster {cluster}: {digit}s, {share} of {count} answers from {people}",
                one.answers,
                mark="✓" if one.says_a_digit else "·",
                cluster=one.cluster,
                digit=one.digit,
                share=percent(lang, one.share),
                people=people,
            )
        )
    return "\n".join(lines)


def retrain_summary(
    lang: str, started_at: datetime, outcome: str | None, state: str, detail: str | None
) -> str:
    """One line about a retraining run for /stats; `detail` is the run's own record."""
    result = outcome or state
    line = f"{moment(lang, started_at)}, {say(lang, RUN_RESULTS.get(result, result))}"
    return line + (f" ({detail})" if detail else "")


def live_accuracy_title(lang: str, share: float | None, feedback: int) -> str:
    """The title of the admins' /stats picture."""
    if share is None:
        return say(lang, N_("Live accuracy: no feedback yet"))
    return plural(
        lang,
        "Live accuracy {share} ({count} answer)",
        "Live accuracy {share} ({count} answers)",
        feedback,
        share=percent(lang, share, 1),
    )


def model_sheet_title(lang: str, accuracy: float) -> str:
    """The subtitle of the picture sent when a retraining ends."""
    return say(
        lang,
        N_("Accuracy on MNIST's test split: {acc} (clusters matched to digits)"),
        acc=percent(lang, accuracy, 1),
    )
