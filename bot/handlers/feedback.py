"""The "Which digit was it?" buttons under a reply, and the true number sent in reply to one."""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.error import BadRequest

from bot import texts
from bot.context import BotContext
from bot.handlers.photos import feedback_keyboard
from bot.i18n import user_language

PATTERN = re.compile(r"^fb:(\d{1,18}):(\d)$")  # ids past 18 digits overflow BIGINT: forged
# "74213" or "7 4 2 1 3": a number, in reply to the bot's answer to a photo.
NUMBER = re.compile(r"^\s*[0-9](?:\s*[0-9])*\s*$")


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
    context.meanings.request_refresh()
    await query.answer(texts.feedback_thanks(lang, digit))
    marked = feedback_keyboard(image_id, chosen=digit)
    if isinstance(query.message, Message) and query.message.reply_markup == marked:
        return  # the same digit again (a double tap): Telegram refuses an edit that changes nothing
    try:
        await query.edit_message_reply_markup(marked)
    except BadRequest as exc:
        # Two taps handled at once both saw the old keyboard; the first one's edit stands.
        if "not modified" not in exc.message.lower():
            raise


async def record_number(update: Update, context: BotContext) -> None:
    """Label each digit of the photo the replied-to answer was about, if the counts match."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.reply_to_message is None:
        return
    lang = user_language(update)
    stored = await context.storage.reply_digits(
        message.chat_id, message.reply_to_message.message_id
    )
    given = [int(char) for char in message.text or "" if char.isdigit()]
    if not stored:
        await message.reply_text(texts.say(lang, texts.NOT_A_REPLY_OF_MINE))
    elif stored[0].user_id != user.id:
        await message.reply_text(texts.say(lang, texts.FEEDBACK_NOT_YOURS))
    elif len(given) != len(stored):
        await message.reply_text(texts.digits_count_differs(lang, len(stored), len(given)))
    elif await context.storage.set_photo_feedback([s.id for s in stored], user.id, given):
        context.meanings.request_refresh()
        await message.reply_text(texts.digits_noted(lang, "".join(map(str, given))))
    else:  # erased by /forget since it was read
        await message.reply_text(texts.say(lang, texts.NOT_A_REPLY_OF_MINE))
