"""/export: a user's own photos, 28x28s and records, as zips sent to them, once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telegram import Message, Update
from telegram.constants import ChatAction

from bot import texts
from bot.context import BotContext
from bot.export_archive import (
    MAX_PARTS,
    UPLOAD_LIMIT,
    ExportTooLargeError,
    PartWriter,
    plan_parts,
)
from bot.i18n import user_language

EXPORT_EVERY = timedelta(hours=1)  # an export reads every photo a user sent: once an hour
UPLOAD_TIMEOUT = 300.0  # seconds to upload one zip of up to 50 MB (the default is 20)


async def send_export(update: Update, context: BotContext) -> None:
    """Claim the user's hourly export in the database, send it, give the claim back if not."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = user_language(update)
    claimed_at = datetime.now(UTC)
    again = await context.storage.claim_export(user.id, claimed_at, EXPORT_EVERY)
    if again is not None:
        await message.reply_text(texts.export_limited(lang, again - claimed_at, again))
        return
    delivered = False
    try:
        delivered = await _deliver(context, message, lang, user.id)
    finally:
        if not delivered:
            await context.storage.release_export(user.id, claimed_at)


async def _deliver(context: BotContext, message: Message, lang: str, user_id: int) -> bool:
    """Send every zip of the user's data; False, having said why, when there is none to send.

    Images are read a batch at a time and written into the zip in the model thread pool, so
    one zip (under 50 MB) and one batch are all that is held at once.
    """
    digits = await context.storage.exported_digits(user_id)
    if not digits:
        await message.reply_text(texts.say(lang, texts.NOTHING_STORED))
        return False
    try:
        parts = plan_parts(digits)
    except ExportTooLargeError:
        await message.reply_text(texts.export_too_large(lang, MAX_PARTS, UPLOAD_LIMIT))
        return False
    await context.bot.send_chat_action(message.chat_id, ChatAction.UPLOAD_DOCUMENT)
    for part in parts:
        writer = PartWriter(datetime.now(UTC))
        for batch in part.batches():
            ids = [digit.id for photo in batch for digit in photo.digits]
            images = await context.storage.export_images(user_id, ids)
            await context.models.run(writer.add, batch, images)
        await message.reply_document(
            await context.models.run(writer.finish),
            filename=part.file_name,
            caption=texts.export_caption(
                lang, part.number, part.count, len(part.photos), part.digit_count
            ),
            write_timeout=UPLOAD_TIMEOUT,
        )
    return True
