"""/privacy and /forget: what is kept, and erasing it once its owner confirms."""

from __future__ import annotations

import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts
from bot.context import BotContext
from bot.i18n import user_language

PATTERN = re.compile(r"^forget:(\d{1,18}):(\d{1,12}|no)$")  # /forget's buttons: user, time or "no"
CONFIRMATION_LIFETIME = 600  # seconds a /forget button stays valid
CLOCK_SKEW = 60  # seconds a button may seem to come from the future (several bot hosts)


async def show_privacy(update: Update, context: BotContext) -> None:
    """What is stored, why, for how long, and how to erase it."""
    if update.effective_message:
        await update.effective_message.reply_text(
            texts.privacy(user_language(update), context.settings.retention_days)
        )


async def ask_forget(update: Update, context: BotContext) -> None:
    """Ask for confirmation with buttons that carry the asker's id and the time of asking."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = user_language(update)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.say(lang, texts.FORGET_YES),
                    callback_data=f"forget:{user.id}:{int(time.time())}",
                ),
                InlineKeyboardButton(
                    texts.say(lang, texts.FORGET_NO), callback_data=f"forget:{user.id}:no"
                ),
            ]
        ]
    )
    await message.reply_text(texts.say(lang, texts.FORGET_QUESTION), reply_markup=keyboard)


async def confirm_forget(update: Update, context: BotContext) -> None:
    """Erase everything of the presser, if the button is theirs and still fresh."""
    query = update.callback_query
    match = PATTERN.match(query.data or "") if query else None
    if query is None or match is None:
        return
    lang = user_language(update)
    if int(match.group(1)) != query.from_user.id:
        await query.answer(texts.say(lang, texts.FORGET_NOT_YOURS), show_alert=True)
        return
    if match.group(2) == "no":
        await query.answer()
        await query.edit_message_text(texts.say(lang, texts.FORGET_CANCELLED))
        return
    if not -CLOCK_SKEW <= time.time() - int(match.group(2)) <= CONFIRMATION_LIFETIME:
        await query.answer()
        await query.edit_message_text(texts.say(lang, texts.FORGET_EXPIRED))
        return
    erased = await context.storage.forget_user(query.from_user.id)
    context.meanings.request_refresh(older_too=True)
    await query.answer()
    await query.edit_message_text(texts.forgotten(lang, erased))
