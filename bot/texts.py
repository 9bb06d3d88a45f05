"""Every sentence the bot says to users, in one place so wording stays consistent and reviewed.

The English here is also the catalog id (gettext's way): `say(lang, MESSAGE)` and the functions
below give the sentence in the user's language, from `bot/locale/<lang>/LC_MESSAGES/bot.po`.
Numbers and dates are formatted for that language by Babel (`bot/i18n.py`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.i18n import N_, moment, number, percent, plural, say, say_matching

if TYPE_CHECKING:
    from bot.meanings import ClusterAnswers
    from bot.quota import QuotaReached

NAME_MAX_LENGTH = 32


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
MNIST_TRAINING_IMAGES = 60_000

WORKING_ON_IT_FAILED = N_(
    "Something went wrong on my side with that message. Please try again later."
)
NOT_AN_IMAGE = N_(
    "I can only read pictures: send a photo of one handwritten digit, or an image file "
    "(PNG or JPEG)."
)
NOT_A_PICTURE_FILE = N_(
    "That file is not a picture I can read. Send a photo, or a PNG or JPEG file, of one "
    "handwritten digit."
)
NOT_A_DIGIT = N_(
    "This doesn't look like a single digit to me. Here is what I saw; try a clearer photo of one "
    "digit, dark ink on a light background, filling most of the frame."
)
ADMIN_ONLY = N_("Sorry, only the bot's admins can use that command.")
CLUSTER_USAGE = N_(
    "Which cluster? Send /cluster followed by a number from 0 to {last}, e.g. /cluster 3."
)
NAME_USAGE = N_(
    "Send /name N TEXT to name cluster N (0 to {last}); the name may be up to {longest} characters."
)
RETRAIN_STARTED = N_("Retraining started. I will report here when it has finished.")
RETRAIN_BUSY = N_("A retraining is already running; I will report when it has finished.")
FEEDBACK_NOT_YOURS = N_("Only the person who sent this photo can answer for it.")
FORGET_QUESTION = N_(
    "This erases every photo you have sent me and everything I recorded about them. "
    "It cannot be undone. Erase everything?"
)
FORGET_YES = N_("Yes, erase everything")
FORGET_NO = N_("No, keep it")
FORGET_CANCELLED = N_("Nothing was erased.")
FORGET_NOT_YOURS = N_("This button belongs to someone else's /forget; nothing was erased.")
NOT_KEPT = N_(
    "My database is unreachable right now, so I did not keep this photo and cannot take "
    "your answer for it. Send it again later if you want it counted."
)
PICTURE_NOT_KEPT = N_(
    "My storage for pictures is full, so I kept the digits I read in this photo but not the "
    "photo itself."
)
PAGE_FEEDBACK = N_(
    "To tell me the true digits, reply to this message with the number, e.g. 74213: one digit "
    "per box, in reading order."
)
TOUCHING_DIGITS = N_("These seem to be digits that touch; I read them as one.")
FEWER_DIGITS = N_("Send a photo of fewer digits, a row or two, and I will answer for each.")
NOT_A_REPLY_OF_MINE = N_(
    "To tell me the true digits of a photo, reply with the number to my answer to that photo."
)
BUTTON_UNKNOWN = N_("That button is not one of mine; nothing was changed.")
FORGET_EXPIRED = N_("This confirmation has expired and nothing was erased. Send /forget again.")
PRIVACY = N_(
    "What I store: each picture you send exactly as received, its size and type, the 28x28 "
    "version I made of each digit in it and where that digit is in the picture, its cluster "
    "and distance, the model version, your Telegram user and chat id, the message id, my "
    "reply's id and the time, the digits you tell me under or in reply to my answer, and when "
    "you last asked for /export.\n"
    "Why: to answer you, to measure how well the clusters match real digits, and to retrain "
    "the model on real handwriting.\n"
    "How long: {retention}.\n"
    "Your pictures are never shown to anyone else: the samples in replies are MNIST images.\n"
    "To get a copy of all of it, send /export (once an hour).\n"
    "To erase everything of yours now, send /forget."
)
NOTHING_STORED = N_(
    "I have nothing stored about you: no photos and no records, so there is nothing to export."
)
EXPORT_IN_PRIVATE = N_(
    "Your data goes only to you: send /export in a private chat with me, not in a group."
)
EXPORT_CONTENTS = N_(
    "In it: each photo as you sent it, the 28x28 image I made of each of its digits, and "
    "records.csv with what I recorded about each digit."
)
RETENTION_FOREVER = N_("until you erase them with /forget")
NEVER = N_("never")
# How a retraining run ended, as recorded by bot/retrain.py.
RUN_RESULTS = {
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "rejected": N_("rejected"),
    "running": N_("running"),
}
# The reasons model.serving.preprocess gives (its PreprocessError messages, numbers as {fields}), so
# they can be said in the user's language too; one it adds later is said in English.
PREPROCESS_REASONS = [
    N_(
        "I could not find a digit in this picture; write one digit in dark ink on plain paper "
        "and photograph it up close, in good light."
    ),
    N_(
        "The image has {width}x{height} pixels, more than the {limit} allowed; send a "
        "smaller photo."
    ),
    N_("The image is only {width}x{height} pixels; send one at least {side} pixels high or wide."),
    N_("The image file is damaged or in a form I cannot read; send it again as a photo."),
    N_("That is not an image; send a photo of a handwritten digit."),
    N_("The image has too many pixels to be processed safely; send a smaller photo."),
    N_("That is not an image I can read; send a JPEG or PNG photo of a handwritten digit."),
]


def help_text(lang: str) -> str:
    """What the bot does in three lines, then the commands."""
    lines = [f"/{name} — {say(lang, about)}" for name, about in COMMANDS + ADMIN_COMMANDS]
    intro = say(lang, HELP, mnist=number(lang, MNIST_TRAINING_IMAGES))
    return intro + "\n\n" + "\n".join(lines)


def commands(lang: str, *, admin: bool = False) -> list[tuple[str, str]]:
    """The command menu (setMyCommands) in `lang`; with `admin`, the admin commands too."""
    listed = COMMANDS + ADMIN_COMMANDS if admin else COMMANDS
    return [(name, say(lang, about)) for name, about in listed]


def flooding(lang: str, seconds: float) -> str:
    """The one notice of the flood limit: the user's next messages go unanswered until then."""
    return plural(
        lang,
        "You are sending me too much at once; I will answer again in {count} second.",
        "You are sending me too much at once; I will answer again in {count} seconds.",
        max(1, math.ceil(seconds)),
    )


def too_big(lang: str, limit_mb: float) -> str:
    """The file exceeds MAX_IMAGE_MB."""
    return say(
        lang,
        N_("That file is too big for me. Please send a picture under {limit} MB."),
        limit=number(lang, limit_mb),
    )


def daily_quota_reached(lang: str, reached: QuotaReached) -> str:
    """The user reached today's photos or bytes quota: say which, and when the day ends."""
    when = plural(
        lang,
        "after midnight UTC, in {count} hour",
        "after midnight UTC, in {count} hours",
        max(1, math.ceil(reached.seconds_left / 3600)),
    )
    if reached.photos:
        return plural(
            lang,
            "You have sent me {count} photo today, as many as I take from one person in a day. "
            "Send more {when}.",
            "You have sent me {count} photos today, as many as I take from one person in a day. "
            "Send more {when}.",
            reached.limit,
            when=when,
        )
    return say(
        lang,
        N_(
            "Your pictures today have reached {size} MB, the most I keep from one person in a "
            "day. Send more {when}."
        ),
        size=number(lang, reached.limit / 1024**2),
        when=when,
    )


def unreadable(lang: str, reason: str) -> str:
    """Preprocessing refused the picture; its reason is already a sentence a user can act on."""
    return say(
        lang,
        N_("I could not read a digit in that picture. {reason}"),
        reason=say_matching(lang, reason, PREPROCESS_REASONS),
    )


def cluster_label(lang: str, cluster: int, names: Mapping[int, str]) -> str:
    """'cluster 3' or 'cluster 3 “seven”' when an admin named it."""
    name = names.get(cluster)
    if name:
        return say(lang, N_("cluster {cluster} “{name}”"), cluster=cluster, name=name)
    return say(lang, N_("cluster {cluster}"), cluster=cluster)


def typicality_words(lang: str, typicality: float) -> str:
    """Plain words for the typicality score, so the number is not left to interpretation."""
    if typicality >= 0.6:
        return say(lang, N_("very typical"))
    if typicality >= 0.3:
        return say(lang, N_("fairly typical"))
    if typicality >= 0.1:
        return say(lang, N_("unusual"))
    return say(lang, N_("quite unusual"))


def reply_caption(
    lang: str, cluster: int, typicality: float, model_version: str, names: Mapping[int, str]
) -> str:
    """The caption under the reply picture."""
    return say(
        lang,
        N_(
            "This looks like {cluster}.\n"
            "It is {words} for that cluster: more typical than {share} of the cluster's "
            "training images.\n"
            "Model {version}. Which digit was it?"
        ),
        cluster=cluster_label(lang, cluster, names),
        words=typicality_words(lang, typicality),
        share=percent(lang, typicality),
        version=model_version,
    )


def people_say(lang: str, said: ClusterAnswers) -> str:
    """What users' answers say a cluster holds, under a one-digit reply."""
    return plural(
        lang,
        "Cluster {cluster}: people say these are {digit}s ({share} of {count} answer).",
        "Cluster {cluster}: people say these are {digit}s ({share} of {count} answers).",
        said.answers,
        cluster=said.cluster,
        digit=said.digit,
        share=percent(lang, said.share),
    )


def people_say_of_clusters(lang: str, said: Sequence[ClusterAnswers]) -> str:
    """What users' answers say several clusters hold, in one line under a page's reply."""
    return say(
        lang,
        N_("What people say: {clusters}."),
        clusters="; ".join(
            plural(
                lang,
                "cluster {cluster}, {digit}s ({share} of {count} answer)",
                "cluster {cluster}, {digit}s ({share} of {count} answers)",
                one.answers,
                cluster=one.cluster,
                digit=one.digit,
                share=percent(lang, one.share),
            )
            for one in said
        ),
    )


def outlier_caption(lang: str, model_version: str) -> str:
    """Caption for a picture far from every cluster."""
    return say(lang, NOT_A_DIGIT) + "\n" + model_line(lang, model_version)


def page_caption(
    lang: str, clusters: list[str], touching: list[int], model_version: str, *, ask: bool
) -> str:
    """The caption under a several-digit reply: every digit's cluster in reading order ("?"
    for one far from every cluster); with `ask`, how to give the true number."""
    lines = [
        plural(
            lang,
            "I see {count} digit: cluster {clusters}.",
            "I see {count} digits: clusters {clusters}.",
            len(clusters),
            clusters=" ".join(clusters),
        )
    ]
    if touching:
        lines.append(
            plural(
                lang,
                "Box {boxes} seems to hold digits that touch; I read it as one.",
                "Boxes {boxes} seem to hold digits that touch; I read each as one.",
                len(touching),
                boxes=", ".join(str(box) for box in touching),
            )
        )
    lines.append(model_line(lang, model_version))
    if ask:
        lines.append(say(lang, PAGE_FEEDBACK))
    return "\n".join(lines)


def too_many_digits(lang: str, found: int, limit: int) -> str:
    """A photo holds more digits than one reply can show."""
    return (
        plural(
            lang,
            "I see {count} digit in this photo, more than the {limit} I answer for at once.",
            "I see {count} digits in this photo, more than the {limit} I answer for at once.",
            found,
            limit=number(lang, limit),
        )
        + " "
        + say(lang, FEWER_DIGITS)
    )


def digits_noted(lang: str, digits: str) -> str:
    """Acknowledges the true number sent in reply to a reply."""
    return say(lang, N_("Thanks! Noted: it was {digits}."), digits=digits)


def digits_count_differs(lang: str, stored: int, given: int) -> str:
    """The number sent in reply has another count of digits than the photo (the caption of
    the reply it answered already says how to give it)."""
    return plural(
        lang,
        "I found {count} digit in that photo, but your answer has {given}. Nothing was noted.",
        "I found {count} digits in that photo, but your answer has {given}. Nothing was noted.",
        stored,
        given=number(lang, given),
    )


def not_kept(lang: str, caption: str) -> str:
    """A reply's caption when the database could not keep the photo."""
    return f"{caption}\n{say(lang, NOT_KEPT)}"


def picture_not_kept(lang: str, caption: str) -> str:
    """A reply's caption when the storage cap left no room for the photo's bytes."""
    return f"{caption}\n{say(lang, PICTURE_NOT_KEPT)}"


def model_line(lang: str, model_version: str) -> str:
    """'Model 2026...'."""
    return say(lang, N_("Model {version}."), version=model_version)


def feedback_thanks(lang: str, digit: int) -> str:
    """Acknowledges a feedback button."""
    return say(lang, N_("Thanks! Noted: it was a {digit}."), digit=digit)


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


def cluster_named(lang: str, cluster: int, name: str) -> str:
    """Confirms /name."""
    return say(lang, N_("Cluster {cluster} is now called “{name}”."), cluster=cluster, name=name)


def name_usage(lang: str, k: int) -> str:
    """How to use /name, with this model's cluster numbers."""
    return say(lang, NAME_USAGE, last=k - 1, longest=NAME_MAX_LENGTH)


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


def forgotten(lang: str, count: int) -> str:
    """After /forget: how many images were erased."""
    return plural(
        lang,
        "Done: I erased {count} photo and everything I recorded about you.",
        "Done: I erased {count} photos and everything I recorded about you.",
        count,
    )


def privacy(lang: str, retention_days: int | None) -> str:
    """The /privacy answer, with the retention actually configured."""
    if retention_days:
        retention = plural(
            lang,
            "{count} day, then they are deleted automatically (or earlier with /forget)",
            "{count} days, then they are deleted automatically (or earlier with /forget)",
            retention_days,
        )
    else:
        retention = say(lang, RETENTION_FOREVER)
    return say(lang, PRIVACY, retention=retention)


def export_caption(lang: str, part: int, parts: int, photos: int, digits: int) -> str:
    """The caption of one zip of /export: which part of how many it is, and what it holds."""
    held = {
        "photos": plural(lang, "{count} photo", "{count} photos", photos),
        "digits": plural(lang, "{count} digit", "{count} digits", digits),
    }
    if parts == 1:
        first = say(lang, N_("Your data: {photos}, {digits}."), **held)
    else:
        first = say(
            lang,
            N_("Your data, part {part} of {parts}: {photos}, {digits}."),
            part=part,
            parts=parts,
            **held,
        )
    return first + "\n" + say(lang, EXPORT_CONTENTS)


def export_limited(lang: str, wait: timedelta, again: datetime) -> str:
    """A second /export within the hour: when the user may ask again."""
    return plural(
        lang,
        "You can have your data once an hour. Ask again in {count} minute (from {time}).",
        "You can have your data once an hour. Ask again in {count} minutes (from {time}).",
        max(1, math.ceil(wait.total_seconds() / 60)),
        time=moment(lang, again),
    )


def export_too_large(lang: str, parts: int, limit_bytes: int) -> str:
    """The data does not fit in the zips one /export may send."""
    return plural(
        lang,
        "I cannot send your data through Telegram: it does not fit in {count} file of up to "
        "{limit} MB.",
        "I cannot send your data through Telegram: it does not fit in {count} files of up to "
        "{limit} MB each.",
        parts,
        limit=number(lang, limit_bytes / 1_000_000),
    )


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
        lines.append(say(lang, N_("By cluster: {counts}."), counts=_per_cluster(lang, per_cluster)))
    return "\n".join(lines)


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
    counts = _per_cluster(lang, per_cluster) or say(lang, N_("none yet"))
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


def _when(lang: str, iso: str) -> str:
    """An ISO timestamp from a model file written for the language (as is if it is not one)."""
    try:
        return moment(lang, datetime.fromisoformat(iso))
    except ValueError:
        return iso


def _per_cluster(lang: str, per_cluster: Mapping[int, int]) -> str:
    return ", ".join(
        f"{cluster}: {number(lang, count)}" for cluster, count in sorted(per_cluster.items())
    )


# Words drawn in the reply pictures (bot/render.py).
WHAT_I_SAW = N_("what I saw")
ITS_CLUSTER = N_("its cluster")

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
