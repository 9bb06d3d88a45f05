"""Photos and image files in, the cluster and its samples out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

from telegram import (
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest

from bot import pushes, texts
from bot.context import BotContext
from bot.i18n import user_language
from bot.meanings import ClusterAnswers
from bot.recognition import MAX_DIGITS, Recognition
from bot.render import Wording
from bot.storage import IncomingImage, Original, StorageUnavailableError
from model.serving.preprocess import PreprocessError

# A quick reply needs no "sending a photo..." status: it would cost a Bot API call counted
# against the bot's message rate. A slow one (big file, busy bot) shows it until the reply.
CHAT_ACTION_AFTER = 1.0  # seconds
CHAT_ACTION_EVERY = 4.0  # Telegram shows an action for about 5 seconds

log = logging.getLogger(__name__)


async def classify_photo(update: Update, context: BotContext) -> None:
    """Answer a photo or an image file with its cluster, the picture and feedback buttons."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    attachment: PhotoSize | Document | None = (
        message.photo[-1] if message.photo else message.document
    )
    if attachment is None:
        return
    lang = user_language(update)
    mime_type = attachment.mime_type or "" if isinstance(attachment, Document) else "image/jpeg"
    limit = context.settings.max_image_bytes
    if attachment.file_size and attachment.file_size > limit:
        await message.reply_text(texts.too_big(lang, context.settings.max_image_mb))
        return
    quota = await context.quota.reached(user.id)
    if quota is not None:
        await message.reply_text(texts.daily_quota_reached(lang, quota))
        return
    async with _showing(context, message.chat_id, ChatAction.UPLOAD_PHOTO):
        try:
            file = await attachment.get_file()
        except BadRequest as exc:
            if "file is too big" not in exc.message.lower():
                raise
            # The size the message claimed was false, or missing: Telegram serves bots 20 MB.
            await message.reply_text(texts.too_big(lang, context.settings.max_image_mb))
            return
        data = bytes(await file.download_as_bytearray())
        if len(data) > limit:
            await message.reply_text(texts.too_big(lang, context.settings.max_image_mb))
            return
        wording = Wording(lang, await _cluster_names(context))
        try:
            seen = await context.models.recognise(data, wording)
        except PreprocessError as exc:
            await message.reply_text(texts.unreadable(lang, str(exc)))
            return
        if not seen.digits:  # more than a reply can show: nothing kept, nothing half-said
            await message.reply_text(texts.too_many_digits(lang, seen.found, MAX_DIGITS))
            return
        try:
            saved = await context.storage.save_photo(
                _incoming(message, user.id, data, mime_type, seen)
            )
        except StorageUnavailableError as exc:
            # Still answer; say plainly that the photo was not kept (no buttons: no row).
            log.warning("answering without keeping the photo: %s", exc)
            await _reply(message, seen, None, wording, context)
            return
        if saved.alert is not None:
            await context.notifier.push(pushes.storage_alert(saved.alert))
        if not saved.created and saved.answered:
            return
        kept = saved.original is not Original.NOT_KEPT
        sent = await _reply(message, seen, saved.image_id, wording, context, kept=kept)
    try:
        await context.storage.mark_answered(saved.image_id, sent.message_id)
    except StorageUnavailableError as exc:
        # The user has the reply; a second message saying "failed" would be false.
        log.warning("reply sent but not marked answered: %s", exc)


def _incoming(
    message: Message, user_id: int, data: bytes, mime_type: str, seen: Recognition
) -> list[IncomingImage]:
    """A record per digit; a photo of one digit has no box, as before several were found."""
    several = len(seen.digits) > 1
    return [
        IncomingImage(
            chat_id=message.chat_id,
            user_id=user_id,
            message_id=message.message_id,
            received_at=datetime.now(UTC),
            original=data,
            mime_type=mime_type,
            digit=digit if several else dataclasses.replace(digit, box=None),
            model_version=seen.model_version,
            digit_index=index,
            digit_count=len(seen.digits),
        )
        for index, digit in enumerate(seen.digits)
    ]


async def _reply(
    message: Message,
    seen: Recognition,
    image_id: int | None,
    wording: Wording,
    context: BotContext,
    *,
    kept: bool = True,
) -> Message:
    """The cluster with feedback buttons, or for an outlier only what the bot saw; for several
    digits each one's cluster, to be answered with the true number. Clusters that users'
    answers give a digit, and that no admin named, say it.

    `image_id` None: the database is unreachable, the photo was not kept, so no buttons.
    `kept` False: the digits were kept, but the storage cap left no room for the picture.
    """
    lang = wording.lang
    keyboard = None
    said = _people_say(context, seen, wording.names)
    if len(seen.digits) > 1:
        clusters = ["?" if d.is_outlier else str(d.cluster) for d in seen.digits]
        touching = [n for n, digit in enumerate(seen.digits, start=1) if digit.touching]
        caption = texts.page_caption(
            lang, clusters, touching, seen.model_version, ask=image_id is not None
        )
        if said:
            caption += "\n" + texts.people_say_of_clusters(lang, said)
    elif seen.digits[0].is_outlier:
        caption = texts.outlier_caption(lang, seen.model_version)
    else:
        digit = seen.digits[0]
        caption = texts.reply_caption(
            lang, digit.cluster, digit.typicality, seen.model_version, wording.names
        )
        if said:
            caption = texts.people_say(lang, said[0]) + "\n" + caption
        if digit.touching:
            caption += "\n" + texts.say(lang, texts.TOUCHING_DIGITS)
        keyboard = feedback_keyboard(image_id) if image_id is not None else None
    if image_id is None:
        caption = texts.not_kept(lang, caption)
    elif not kept:
        caption = texts.picture_not_kept(lang, caption)
    return await message.reply_photo(seen.picture, caption=caption, reply_markup=keyboard)


def _people_say(
    context: BotContext, seen: Recognition, names: Mapping[int, str]
) -> list[ClusterAnswers]:
    """What users' answers say of the clusters of this reply's digits, where no admin named
    them (an admin's name wins); nothing for a model whose answers are not counted yet."""
    meanings = context.meanings.meanings(seen.model_version)
    if not meanings and context.meanings.counted_version != seen.model_version:
        context.meanings.request_refresh()
    clusters = sorted({d.cluster for d in seen.digits if not d.is_outlier} - names.keys())
    return [meanings[c] for c in clusters if c in meanings]


async def _cluster_names(context: BotContext) -> dict[int, str]:
    """Admins' names for clusters; a reply goes out without them if the database just failed."""
    try:
        return await context.storage.cluster_names()
    except StorageUnavailableError:
        return {}


def feedback_keyboard(image_id: int, chosen: int | None = None) -> InlineKeyboardMarkup:
    """Buttons 0-9 bound to one stored image; the chosen digit is marked once answered."""
    buttons = [
        InlineKeyboardButton(
            f"✓ {digit}" if digit == chosen else str(digit), callback_data=f"fb:{image_id}:{digit}"
        )
        for digit in range(10)
    ]
    return InlineKeyboardMarkup([buttons[:5], buttons[5:]])


@contextlib.asynccontextmanager
async def _showing(context: BotContext, chat_id: int, action: str) -> AsyncIterator[None]:
    """Show the chat action once the work takes noticeably long, until it ends."""

    async def repeat() -> None:
        await asyncio.sleep(CHAT_ACTION_AFTER)
        while True:
            await context.bot.send_chat_action(chat_id, action)
            await asyncio.sleep(CHAT_ACTION_EVERY)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
