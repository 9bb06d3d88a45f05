"""Commands only the admins in ADMIN_IDS may run: /name and /retrain."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot import texts
from bot.context import BotContext
from bot.i18n import user_language

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(handler: Handler) -> Handler:
    """Refuse politely, and run nothing, unless the sender is an admin."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        user = update.effective_user
        if user is None or user.id not in context.settings.admin_ids:
            if update.effective_message:
                await update.effective_message.reply_text(
                    texts.say(user_language(update), texts.ADMIN_ONLY)
                )
            return
        await handler(update, context)

    return guarded


@admin_only
async def name_cluster(update: Update, context: BotContext) -> None:
    """/name N TEXT: give cluster N a name shown in captions."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    lang = user_language(update)
    k = context.models.current.k
    args = context.args or []
    name = " ".join(args[1:]).strip()
    if (
        len(args) < 2
        or not args[0].isdecimal()
        or int(args[0]) >= k
        or len(name) > texts.NAME_MAX_LENGTH
    ):
        await message.reply_text(texts.name_usage(lang, k))
        return
    cluster = int(args[0])
    await context.storage.set_cluster_name(cluster, name, update.effective_user.id)
    await message.reply_text(texts.cluster_named(lang, cluster, name))


@admin_only
async def retrain_now(update: Update, context: BotContext) -> None:
    """/retrain: start a retraining unless one is already running."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    started = await context.retrainer.start(
        trigger=f"admin {update.effective_user.id}", requested_by=message.chat_id
    )
    reply = texts.RETRAIN_STARTED if started else texts.RETRAIN_BUSY
    await message.reply_text(texts.say(user_language(update), reply))
