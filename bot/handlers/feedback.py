"""The "Which digit was it?" buttons under a reply."""

from __future__ import annotations

import re

from telegram import Update

from bot import texts
from bot.context import BotContext
from bot.handlers.photos import feedback_keyboard
from bot.i18n import user_language

PATTERN = re.compile(r"^fb:(\d{1,18}):(\d)$")  # ids past 18 digits overflow BIGINT: forged


async def record_feedback(update: Update, context: BotContext) -> None:
    """Keep the digit the user pressed, only for their own image, and mark it on the keyboard."""
    query = update.callback_query
    match = PATTERN.match(query.data or "") if query else None
    if query is None or match is None:
        return
    lang = user_language(update)
    image_id, digit = int(match.group(1)), int(match.group(2))
    if not await context.storage.set_feedback(image_id, query.from_user.id, digit):
        await query.answer(texts.say(lang, texts.FEEDBACK_NOT_YOURS), show_alert=True)
        return
    await query.answer(texts.feedback_thanks(lang, digit))
    await query.edit_message_reply_markup(feedback_keyboard(image_id, chosen=digit))
