"""What the bot says about itself and its clusters: /help and the command menu, /model,
/cluster, /clusters and a user's own /stats.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.i18n import N_, moment, number, percent, plural, say
from bot.texts.replies import cluster_label, model_line

if TYPE_CHECKING:
    from bot.meanings import ClusterAnswers


COMMANDS: list[tuple[str, str]] = [
    ("start", N_("what this bot does")),
    ("help", N_("what this bot does and its commands")),
    ("clusters", N_("every cluster in one picture, with what it holds")),
    ("cluster", N_("show the samples of cluster N, e.g. /cluster 3")),
    ("model", N_("the model in use: version, training, metrics")),
    ("stats", N_("your photos so far")),
    ("privacy", N_("what is stored about you and for how long")),
    ("export", N_("a copy of every photo and record of yours")),
    ("forget", N_("erase every photo and record of yours")),
]

ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("name", N_("admins: /name N TEXT names cluster N")),
    ("retrain", N_("admins: retrain the model now")),
]

HELP = N_(
    "Send me a photo of one handwritten digit and I will tell you which of my clusters it "
    "belongs to.\n"
    "I learned the clusters from {mnist} MNIST digits without ever being told which digit is "
    "which.\n"
    "Each reply shows what I saw next to typical members of its cluster; the buttons tell me "
    "what the digit really was."
)

MNIST_TRAINING_IMAGES = 60_000  # the digits /help says the clusters were learned from

CLUSTER_USAGE = N_(
    "Which cluster? Send /cluster followed by a number from 0 to {last}, e.g. /cluster 3."
)


def help_text(lang: str) -> str:
    """What the bot does in three lines, then the commands."""
    lines = [f"/{name} — {say(lang, about)}" for name, about in COMMANDS + ADMIN_COMMANDS]
    intro = say(lang, HELP, mnist=number(lang, MNIST_TRAINING_IMAGES))
    return intro + "\n\n" + "\n".join(lines)


def commands(lang: str, *, admin: bool = False) -> list[tuple[str, str]]:
    """The command menu (setMyCommands) in `lang`; with `admin`, the admin commands too."""
    listed = COMMANDS + ADMIN_COMMANDS if admin else COMMANDS
    return [(name, say(lang, about)) for name, about in listed]


def cluster_caption(lang: str, cluster: int, count: int, names: Mapping[int, str]) -> str:
    """Caption under /cluster N's grid."""
    return plural(
        lang,
        "Typical members of {cluster} ({count} shown).",
        "Typical members of {cluster} ({count} shown).",
        count,
        cluster=cluster_label(lang, cluster, names),
    )


def clusters_heading(lang: str, count: int) -> str:
    """Above the /clusters picture's rows."""
    return plural(
        lang,
        "The model's {count} cluster and typical members",
        "The model's {count} clusters and typical members",
        count,
    )


def cluster_title(lang: str, name: str | None, said: ClusterAnswers | None) -> str:
    """What a cluster is, in the /clusters picture: an admin's name wins over users' answers."""
    if name:
        return say(lang, N_("“{name}”"), name=name)
    if said is not None:
        return say(
            lang,
            N_("people say {digit}s ({share})"),
            digit=said.digit,
            share=percent(lang, said.share),
        )
    return ""


def cluster_size(lang: str, count: int) -> str:
    """How many training digits a cluster holds, in the /clusters picture."""
    return plural(lang, "{count} training digit", "{count} training digits", count)


def clusters_caption(lang: str, model_version: str) -> str:
    """Caption under the /clusters picture."""
    return (
        model_line(lang, model_version)
        + "\n"
        + say(lang, N_("/cluster N shows more members of cluster N."))
    )


def model_info(lang: str, version: str, metadata: Mapping[str, Any], k: int) -> str:
    """The /model answer: version, when and on what it was trained, its MNIST metrics."""
    lines = [
        plural(
            lang,
            "Model {version}, {count} cluster.",
            "Model {version}, {count} clusters.",
            k,
            version=version,
        )
    ]
    trained_at = metadata.get("trained_at")
    if trained_at:
        lines.append(say(lang, N_("Trained {when}."), when=_when(lang, str(trained_at))))
    n_train, n_extra = metadata.get("n_train"), metadata.get("n_extra") or 0
    if n_train is not None:
        users = plural(
            lang,
            "{count} image from users",
            "{count} images from users",
            int(n_extra),
        )
        lines.append(
            plural(
                lang,
                "Trained on {count} MNIST image and {users}.",
                "Trained on {count} MNIST images and {users}.",
                int(n_train),
                users=users,
            )
        )
    metrics = metadata.get("metrics")
    if metrics:
        lines.append(
            say(
                lang,
                N_(
                    "On MNIST's test set: accuracy {acc} (clusters matched to digits), "
                    "NMI {nmi}, ARI {ari}."
                ),
                acc=percent(lang, metrics["acc"], 1),
                nmi=number(lang, metrics["nmi"], 3),
                ari=number(lang, metrics["ari"], 3),
            )
        )
    else:
        lines.append(say(lang, N_("It has not been measured against MNIST's labels.")))
    return "\n".join(lines)


def user_stats(
    lang: str,
    images: int,
    outliers: int,
    feedback: int,
    per_cluster: Mapping[int, int],
    photos: int | None = None,
) -> str:
    """A user's own /stats; `images` counts digits, `photos` (if fewer) the photos holding them."""
    if not images:
        return say(lang, N_("You have not sent me any photos yet."))
    sent = photos if photos is not None else images
    lines = [
        plural(lang, "You have sent me {count} photo.", "You have sent me {count} photos.", sent),
        *(
            [
                plural(
                    lang,
                    "In them I found {count} digit.",
                    "In them I found {count} digits.",
                    images,
                )
            ]
            if sent != images
            else []
        ),
        plural(
            lang,
            "{count} of them did not look like a digit.",
            "{count} of them did not look like a digit.",
            outliers,
        ),
        plural(
            lang,
            "You told me the real digit for {count} of them.",
            "You told me the real digit for {count} of them.",
            feedback,
        ),
    ]
    if per_cluster:
        lines.append(
            say(lang, N_("By cluster: {counts}."), counts=per_cluster_counts(lang, per_cluster))
        )
    return "\n".join(lines)


def _when(lang: str, iso: str) -> str:
    """An ISO timestamp from a model file written for the language (as is if it is not one)."""
    try:
        return moment(lang, datetime.fromisoformat(iso))
    except ValueError:
        return iso


def per_cluster_counts(lang: str, per_cluster: Mapping[int, int]) -> str:
    return ", ".join(
        f"{cluster}: {number(lang, count)}" for cluster, count in sorted(per_cluster.items())
    )
