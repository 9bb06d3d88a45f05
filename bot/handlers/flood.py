"""The flood limit's gate, run before every handler (group -1 in `build_application`)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.context import BotContext
from bot.i18n import user_language


async def limit_flood(update: Update, context: BotContext) -> None:
    """Let the update through, or stop it: the update that crosses the limit gets the notice,
    later ones nothing but their button answered, so that the user's client stops spinning."""
    user = update.effective_user
    if user is None:
        return
    verdict = await context.flood.check(user.id)
    if verdict.allowed:
        return
    query, message = update.callback_query, update.effective_message
    if verdict.notify:
        notice = texts.flooding(user_language(update), verdict.wait)
        if query is not None:
            await query.answer(notice, show_alert=True)
        elif message is not None:
            await message.reply_text(notice)
    elif query is not None:
        await query.answer()
    raise ApplicationHandlerStop
