"""Every sentence the bot says, in one place so wording stays consistent and easy to review."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

NAME_MAX_LENGTH = 32

COMMANDS: list[tuple[str, str]] = [
    ("start", "what this bot does"),
    ("help", "what this bot does and its commands"),
    ("cluster", "show the samples of cluster N, e.g. /cluster 3"),
    ("model", "the model in use: version, training, metrics"),
    ("stats", "your photos so far"),
    ("privacy", "what is stored about you and for how long"),
    ("forget", "erase every photo and record of yours"),
]
ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("name", "admins: /name N TEXT names cluster N"),
    ("retrain", "admins: retrain the model now"),
]

HELP = (
    "Send me a photo of one handwritten digit and I will tell you which of my clusters it "
    "belongs to.\n"
    "I learned the clusters from 60,000 MNIST digits without ever being told which digit is "
    "which.\n"
    "Each reply shows what I saw next to typical members of its cluster; the buttons tell me "
    "what the digit really was.\n\n"
    + "\n".join(f"/{name} — {about}" for name, about in COMMANDS + ADMIN_COMMANDS)
)

WORKING_ON_IT_FAILED = "Something went wrong on my side with that message. Please try again later."
NOT_AN_IMAGE = (
    "I can only read pictures: send a photo of one handwritten digit, or an image file "
    "(PNG or JPEG)."
)
NOT_A_PICTURE_FILE = (
    "That file is not a picture I can read. Send a photo, or a PNG or JPEG file, of one "
    "handwritten digit."
)
NOT_A_DIGIT = (
    "This doesn't look like a single digit to me. Here is what I saw; try a clearer photo of one "
    "digit, dark ink on a light background, filling most of the frame."
)
ADMIN_ONLY = "Sorry, only the bot's admins can use that command."
CLUSTER_USAGE = (
    "Which cluster? Send /cluster followed by a number from 0 to {last}, e.g. /cluster 3."
)
NAME_USAGE = (
    "Send /name N TEXT to name cluster N (0 to {last}); the name may be up to "
    f"{NAME_MAX_LENGTH} characters."
)
RETRAIN_STARTED = "Retraining started. I will report here when it has finished."
RETRAIN_BUSY = "A retraining is already running; I will report when it has finished."
FEEDBACK_NOT_YOURS = "Only the person who sent this photo can answer for it."
FORGET_QUESTION = (
    "This erases every photo you have sent me and everything I recorded about them. "
    "It cannot be undone. Erase everything?"
)
FORGET_YES = "Yes, erase everything"
FORGET_NO = "No, keep it"
FORGET_CANCELLED = "Nothing was erased."
FORGET_NOT_YOURS = "This button belongs to someone else's /forget; nothing was erased."
NOT_KEPT = (
    "My database is unreachable right now, so I did not keep this photo and cannot take "
    "your answer for it. Send it again later if you want it counted."
)
BUTTON_UNKNOWN = "That button is not one of mine; nothing was changed."
FORGET_EXPIRED = "This confirmation has expired and nothing was erased. Send /forget again."
PRIVACY = (
    "What I store: each picture you send exactly as received, its size and type, the 28x28 "
    "version I made of it, its cluster and distance, the model version, your Telegram user "
    "and chat id, the message id and the time, and the digit you pick under the reply.\n"
    "Why: to answer you, to measure how well the clusters match real digits, and to retrain "
    "the model on real handwriting.\n"
    "How long: {retention}.\n"
    "Your pictures are never shown to anyone else: the samples in replies are MNIST images.\n"
    "To erase everything of yours now, send /forget."
)
RETENTION_FOREVER = "until you erase them with /forget"
RETENTION_DAYS = "{days} days, then they are deleted automatically (or earlier with /forget)"


def rate_limited(seconds: float) -> str:
    """The user is sending too fast: say when the next photo will be accepted."""
    wait = max(1, math.ceil(seconds))
    return f"That is a lot of photos at once. Please send the next one in {_count(wait, 'second')}."


def too_big(limit_mb: float) -> str:
    """The file exceeds MAX_IMAGE_MB."""
    return f"That file is too big for me. Please send a picture under {limit_mb:g} MB."


def unreadable(reason: str) -> str:
    """Preprocessing refused the picture; its reason is already a sentence a user can act on."""
    return f"I could not read a digit in that picture. {reason}"


def cluster_label(cluster: int, names: Mapping[int, str]) -> str:
    """'cluster 3' or 'cluster 3 “seven”' when an admin named it."""
    name = names.get(cluster)
    return f"cluster {cluster} “{name}”" if name else f"cluster {cluster}"


def typicality_words(typicality: float) -> str:
    """Plain words for the typicality score, so the number is not left to interpretation."""
    if typicality >= 0.6:
        return "very typical"
    if typicality >= 0.3:
        return "fairly typical"
    if typicality >= 0.1:
        return "unusual"
    return "quite unusual"


def reply_caption(
    cluster: int, typicality: float, model_version: str, names: Mapping[int, str]
) -> str:
    """The caption under the reply picture."""
    return (
        f"This looks like {cluster_label(cluster, names)}.\n"
        f"It is {typicality_words(typicality)} for that cluster: more typical than "
        f"{typicality:.0%} of the cluster's training images.\n"
        f"Model {model_version}. Which digit was it?"
    )


def outlier_caption(model_version: str) -> str:
    """Caption for a picture far from every cluster."""
    return f"{NOT_A_DIGIT}\nModel {model_version}."


def feedback_thanks(digit: int) -> str:
    """Acknowledges a feedback button."""
    return f"Thanks! Noted: it was a {digit}."


def cluster_caption(cluster: int, count: int, names: Mapping[int, str]) -> str:
    """Caption under /cluster N's grid."""
    return f"Typical members of {cluster_label(cluster, names)} ({count} shown)."


def cluster_named(cluster: int, name: str) -> str:
    """Confirms /name."""
    return f"Cluster {cluster} is now called “{name}”."


def model_info(version: str, metadata: Mapping[str, Any], k: int) -> str:
    """The /model answer: version, when and on what it was trained, its MNIST metrics."""
    lines = [f"Model {version}, {k} clusters."]
    trained_at = metadata.get("trained_at")
    if trained_at:
        lines.append(f"Trained {trained_at}.")
    n_train, n_extra = metadata.get("n_train"), metadata.get("n_extra") or 0
    if n_train is not None:
        lines.append(f"Trained on {n_train} MNIST images and {n_extra} images from users.")
    metrics = metadata.get("metrics")
    if metrics:
        lines.append(
            "On MNIST's test set: accuracy {:.1%} (clusters matched to digits), "
            "NMI {:.3f}, ARI {:.3f}.".format(metrics["acc"], metrics["nmi"], metrics["ari"])
        )
    else:
        lines.append("It has not been measured against MNIST's labels.")
    return "\n".join(lines)


def forgotten(count: int) -> str:
    """After /forget: how many images were erased."""
    return f"Done: I erased {_count(count, 'photo')} and everything I recorded about you."


def privacy(retention_days: int | None) -> str:
    """The /privacy answer, with the retention actually configured."""
    if retention_days:
        return PRIVACY.format(retention=RETENTION_DAYS.format(days=retention_days))
    return PRIVACY.format(retention=RETENTION_FOREVER)


def user_stats(images: int, outliers: int, feedback: int, per_cluster: Mapping[int, int]) -> str:
    """A user's own /stats."""
    if not images:
        return "You have not sent me any photos yet."
    lines = [f"You have sent me {_count(images, 'photo')}; {outliers} did not look like a digit."]
    lines.append(f"You told me the real digit for {feedback} of them.")
    if per_cluster:
        lines.append("By cluster: " + _per_cluster(per_cluster) + ".")
    return "\n".join(lines)


def global_stats(
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
        f"{accuracy:.1%} of {feedback} answers match their cluster"
        if accuracy is not None
        else "no feedback yet"
    )
    return "\n".join(
        [
            f"All users: {_count(images, 'photo')} from {_count(users, 'user')}, {today} today.",
            "By cluster: " + (_per_cluster(per_cluster) or "none yet") + ".",
            f"Live accuracy: {live}.",
            f"Last retraining: {last_retrain}.",
        ]
    )


def retrain_summary(
    started_at: datetime, outcome: str | None, state: str, detail: str | None
) -> str:
    """One line about a retraining run for /stats."""
    when = started_at.strftime("%Y-%m-%d %H:%M UTC")
    result = outcome or state
    return f"{when}, {result}" + (f" ({detail})" if detail else "")


def _per_cluster(per_cluster: Mapping[int, int]) -> str:
    return ", ".join(f"{cluster}: {count}" for cluster, count in sorted(per_cluster.items()))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
