"""What the bot says about a user's own data: /privacy, /forget and /export."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from bot.i18n import N_, moment, number, plural, say

FORGET_QUESTION = N_(
    "This erases every photo you have sent me and everything I recorded about them. "
    "It cannot be undone. Erase everything?"
)

FORGET_YES = N_("Yes, erase everything")

FORGET_NO = N_("No, keep it")

FORGET_CANCELLED = N_("Nothing was erased.")

FORGET_NOT_YOURS = N_("This button belongs to someone else's /forget; nothing was erased.")

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
