"""Everything that is not a picture or a command, and the one error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden

from bot import pushes, texts
from bot.context import ERROR_PUSHES, NOTIFIER, BotContext
from bot.error_pushes import ErrorPushThrottle
from bot.i18n import user_language

log = logging.getLogger(__name__)
# Telegram's words for a request a user's own action made moot.
MOOT_REFUSALS = ("query is too old", "message is not modified")


async def explain_what_to_send(update: Update, context: BotContext) -> None:
    """Text, stickers, voice, video, other files: say what to send instead."""
    message = update.effective_message
    if message is None:
        return
    reply = texts.NOT_A_PICTURE_FILE if message.document else texts.NOT_AN_IMAGE
    await message.reply_text(texts.say(user_language(update), reply))


async def answer_unknown_button(update: Update, context: BotContext) -> None:
    """A button payload no handler knows (forged, or from an old version): answer, change nothing.

    An unanswered callback query leaves the user's button spinning.
    """
    if update.callback_query:
        await update.callback_query.answer(
            texts.say(user_language(update), texts.BUTTON_UNKNOWN), show_alert=True
        )


async def report_error(update: object, context: BotContext) -> None:
    """Log the failure, then tell the user something short and true, then the admins (once per
    kind of error and ERROR_PUSH_EVERY, with the count).

    Telegram refusing what a user's own action made moot (a blocked bot, a button pressed
    long ago or twice) is no failure of the bot: it is logged, nothing more.
    """
    if _moot(context.error):
        log.info("Telegram refused a moot request: %s", context.error)
        return
    log.error("failed to handle an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id,
                texts.say(user_language(update), texts.WORKING_ON_IT_FAILED),
            )
        except Forbidden:
            log.info("user blocked the bot; cannot report the error to them")
    notifier = context.bot_data.get(NOTIFIER)
    kind = type(context.error).__name__
    count = context.bot_data.setdefault(ERROR_PUSHES, ErrorPushThrottle()).due(kind)
    if notifier is not None and count is not None:
        await notifier.push(pushes.bot_error(kind, count))


def _moot(error: BaseException | None) -> bool:
    """A user blocked the bot, or a button's query expired or was answered already."""
    if isinstance(error, Forbidden):
        return True
    return isinstance(error, BadRequest) and any(
        words in error.message.lower() for words in MOOT_REFUSALS
    )
