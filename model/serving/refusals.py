"""What the sender of a picture the model refuses is told: one sentence per reason, here only.

Each is a template whose {fields} are whole numbers, so that the bot can say it in its user's
language (`bot/texts`); `N_` marks it for the bot's catalog, as `pybabel extract -k N_` finds
messages.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Mark `message` for the bot's catalog; here it stays English."""
    return message


TOO_MANY_PIXELS = N_(
    "The image has {width}x{height} pixels, more than the {limit} allowed; send a smaller photo."
)
TOO_FEW_PIXELS = N_(
    "The image is only {width}x{height} pixels; send one at least {side} pixels high or wide."
)
DAMAGED = N_("The image file is damaged or in a form I cannot read; send it again as a photo.")
NOT_AN_IMAGE = N_("That is not an image; send a photo of a handwritten digit.")
BOMB = N_("The image has too many pixels to be processed safely; send a smaller photo.")
UNREADABLE_FORMAT = N_(
    "That is not an image I can read; send a JPEG or PNG photo of a handwritten digit."
)
NO_DIGIT = N_(
    "I could not find a digit in this picture; write one digit in dark ink on plain paper "
    "and photograph it up close, in good light."
)

REFUSALS = (
    TOO_MANY_PIXELS,
    TOO_FEW_PIXELS,
    DAMAGED,
    NOT_AN_IMAGE,
    BOMB,
    UNREADABLE_FORMAT,
    NO_DIGIT,
)
