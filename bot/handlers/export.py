"""/export: a user's own photos, 28x28s and records, as zips sent to them, once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telegram import Message, Update
from telegram.constants import ChatAction, ChatType

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
UPLOAD_TIMEOUT = 300.0  # seconds to upload a zip of up to 50 MB (python-telegram-bot: 20)


async def send_export(update: Update, context: BotContext) -> None:
    """In a private chat only: claim the user's hourly export in the database, send it, and
    give the claim back if nothing was delivered."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = user_language(update)
    if message.chat.type != ChatType.PRIVATE:  # a group would see every photo of theirs
        await message.reply_text(texts.say(lang, texts.EXPORT_IN_PRIVATE))
        return
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

    The planning (formatting every row) and the zips are made in the model thread pool, and
    photos are read a batch at a time, so one zip (under 50 MB) and one batch are all that is
    held at once.
    """
    digits = await context.storage.exported_digits(user_id)
    if not digits:
        await message.reply_text(texts.say(lang, texts.NOTHING_STORED))
        return False
    try:
        parts = await context.models.run(plan_parts, digits)
    except ExportTooLargeError:
        await message.reply_text(texts.export_too_large(lang, MAX_PARTS, UPLOAD_LIMIT))
        return False
    await context.bot.send_chat_action(message.chat_id, ChatAction.UPLOAD_DOCUMENT)
    for part in parts:
        writer = PartWriter(datetime.now(UTC))
        for batch in part.batches():
            ids = [digit.id for photo in batch for digit in photo.digits]
            originals = await context.storage.export_originals(user_id, ids)
            await context.models.run(writer.add, batch, originals)
        await message.reply_document(
            await context.models.run(writer.finish),
            filename=part.file_name,
            caption=texts.export_caption(
                lang, part.number, part.count, len(part.photos), part.digit_count
            ),
            write_timeout=UPLOAD_TIMEOUT,
        )
    return True
