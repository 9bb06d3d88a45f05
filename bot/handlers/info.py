"""/start, /help, /model, /clusters and /cluster: what the bot does and what it has learned."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.context import BotContext
from bot.i18n import user_language
from bot.render import ClusterRow, render_clusters, render_samples


async def show_help(update: Update, context: BotContext) -> None:
    """Say what the bot does in three lines, then the commands."""
    if update.effective_message:
        await update.effective_message.reply_text(texts.help_text(user_language(update)))


async def show_model(update: Update, context: BotContext) -> None:
    """Version, training date and size, MNIST metrics of the model being served."""
    model = context.models.current
    if update.effective_message:
        await update.effective_message.reply_text(
            texts.model_info(user_language(update), model.version, model.metadata, model.k)
        )


async def show_cluster(update: Update, context: BotContext) -> None:
    """The representative samples of cluster N."""
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update)
    model = context.models.current
    args = context.args or []
    if len(args) != 1 or not args[0].isdecimal() or int(args[0]) >= model.k:
        await message.reply_text(texts.say(lang, texts.CLUSTER_USAGE, last=model.k - 1))
        return
    cluster = int(args[0])
    samples = model.samples(cluster)
    picture = await context.models.run(render_samples, samples)
    names = await context.storage.cluster_names()
    shown = min(len(samples), 32)
    await message.reply_photo(picture, caption=texts.cluster_caption(lang, cluster, shown, names))


async def show_clusters(update: Update, context: BotContext) -> None:
    """Every cluster in one picture: its name or what users say it is, its size, its members."""
    message = update.effective_message
    if message is None:
        return
    lang = user_language(update)
    model = context.models.current
    names = await context.storage.cluster_names()
    said = context.meanings.meanings(model.version)
    sizes = model.metadata.get("cluster_sizes") or [0] * model.k
    rows = [
        ClusterRow(
            cluster,
            texts.cluster_title(lang, names.get(cluster), said.get(cluster)),
            texts.cluster_size(lang, int(sizes[cluster])),
            model.samples(cluster),
        )
        for cluster in range(model.k)
    ]
    heading = texts.clusters_heading(lang, model.k)
    picture = await context.models.run(render_clusters, heading, rows, lang)
    await message.reply_photo(picture, caption=texts.clusters_caption(lang, model.version))
