"""/stats: a user's own counts; for an admin, the totals across everyone and one picture."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update

from bot import texts
from bot.admin_pictures import cluster_digits, stats_picture
from bot.context import BotContext
from bot.i18n import user_language

PICTURE_DAYS = 30  # days an admin's /stats picture shows


async def show_stats(update: Update, context: BotContext) -> None:
    """A user sees only their own numbers; an admin sees the totals and the picture too."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    lang = user_language(update)
    own = await context.storage.user_stats(user.id)
    lines = [
        texts.user_stats(lang, own.images, own.outliers, own.feedback, own.per_cluster, own.photos)
    ]
    if user.id not in context.settings.admin_ids:
        await message.reply_text(lines[0])
        return
    now = datetime.now(UTC)
    total = await context.storage.global_stats(now)
    run = total.last_retrain
    last = (
        texts.retrain_summary(lang, run.started_at, run.outcome, run.state, run.detail)
        if run
        else texts.say(lang, texts.NEVER)
    )
    lines.append(
        texts.global_stats(
            lang,
            total.photos,
            total.users,
            total.today,
            total.per_cluster,
            total.accuracy.share,
            total.accuracy.feedback,
            last,
        )
    )
    model = context.models.current
    tallies = context.meanings.answers(model.version)
    lines.append(texts.answers_per_cluster(lang, list(tallies.values())))
    await message.reply_text("\n\n".join(lines))
    activity = await context.storage.activity(now, PICTURE_DAYS)
    picture = await context.models.run(
        stats_picture, lang, activity, model.k, cluster_digits(model)
    )
    await message.reply_photo(picture)
