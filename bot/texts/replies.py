"""What the bot says in answer to a photo, a button or a typed number, and when it refuses
one (too big, too fast, unreadable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.i18n import N_, number, percent, plural, say, say_matching
from model.serving.refusals import REFUSALS

if TYPE_CHECKING:
    from bot.meanings import ClusterAnswers
    from bot.quota import QuotaReached


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

FEEDBACK_NOT_YOURS = N_("Only the person who sent this photo can answer for it.")

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

# Words drawn in the reply pictures (bot/render.py).
WHAT_I_SAW = N_("what I saw")

ITS_CLUSTER = N_("its cluster")


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
        reason=say_matching(lang, reason, REFUSALS),  # a new one is said in English
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
