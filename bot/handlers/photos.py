"""Photos and image files in, the cluster and its samples out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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

from bot import texts
from bot.context import BotContext
from bot.i18n import user_language
from bot.recognition import Recognition
from bot.storage import IncomingImage, StorageUnavailableError
from model.preprocess import PreprocessError

# A quick reply needs no "sending a photo..." status: it would cost a Bot API call counted
# against the bot's message rate. A slow one (big file, busy bot) shows it until the reply.
CHAT_ACTION_AFTER = 1.0
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
    wait = context.limiter.acquire(user.id)
    if wait:
        await message.reply_text(texts.rate_limited(lang, wait))
        return
    async with _showing(context, message.chat_id, ChatAction.UPLOAD_PHOTO):
        file = await attachment.get_file()
        data = bytes(await file.download_as_bytearray())
        if len(data) > limit:
            await message.reply_text(texts.too_big(lang, context.settings.max_image_mb))
            return
        try:
            seen = await context.models.recognise(data)
        except PreprocessError as exc:
            await message.reply_text(texts.unreadable(lang, str(exc)))
            return
        try:
            saved = await context.storage.save_image(
                _incoming(message, user.id, data, mime_type, seen)
            )
        except StorageUnavailableError as exc:
            # Still answer; say plainly that the photo was not kept (no buttons: no row).
            log.warning("answering without keeping the photo: %s", exc)
            await _reply(context, message, lang, seen, None)
            return
        if not saved.created and saved.answered:
            return
        await _reply(context, message, lang, seen, saved.image_id)
    try:
        await context.storage.mark_answered(saved.image_id)
    except StorageUnavailableError as exc:
        # The user has the reply; a second message saying "failed" would be false.
        log.warning("reply sent but not marked answered: %s", exc)


def _incoming(
    message: Message, user_id: int, data: bytes, mime_type: str, seen: Recognition
) -> IncomingImage:
    return IncomingImage(
        chat_id=message.chat_id,
        user_id=user_id,
        message_id=message.message_id,
        received_at=datetime.now(UTC),
        original=data,
        mime_type=mime_type,
        mnist=seen.mnist,
        cluster=seen.cluster,
        distance=seen.distance,
        typicality=seen.typicality,
        is_outlier=seen.is_outlier,
        model_version=seen.model_version,
    )


async def _reply(
    context: BotContext, message: Message, lang: str, seen: Recognition, image_id: int | None
) -> None:
    """The cluster with feedback buttons, or for an outlier only what the bot saw.

    `image_id` None: the database is unreachable, the photo was not kept, so no buttons.
    """
    keyboard = None
    if seen.is_outlier:
        caption = texts.outlier_caption(lang, seen.model_version)
    else:
        names = await _cluster_names(context) if image_id is not None else {}
        caption = texts.reply_caption(
            lang, seen.cluster, seen.typicality, seen.model_version, names
        )
        keyboard = feedback_keyboard(image_id) if image_id is not None else None
    if image_id is None:
        caption = texts.not_kept(lang, caption)
    await message.reply_photo(seen.picture, caption=caption, reply_markup=keyboard)


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
