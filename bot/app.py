"""`build_application`: the one place that builds the bot and everything it talks to."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import BadRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import pushes, texts
from bot.aiohttp_request import AiohttpRequest
from bot.context import (
    FLOOD,
    MEANINGS,
    MODEL_PICKUP,
    MODELS,
    NOTIFIER,
    QUOTA,
    RETRAINER,
    SETTINGS,
    STORAGE,
    BotContext,
)
from bot.delivery import (
    DrainingUpdater,
    HandledQueue,
    LedgerBot,
    LedgerProcessor,
    UpdateLedger,
    confirm_handled,
)
from bot.flood import FloodLimit
from bot.handlers import (
    admin,
    export,
    fallback,
    feedback,
    flood,
    info,
    photos,
    privacy,
    stats,
)
from bot.i18n import SOURCE_LANGUAGE, languages
from bot.jobs import Schedules, register_jobs
from bot.meanings import ClusterMeanings
from bot.model_pickup import ModelPickup
from bot.model_provider import ModelProvider
from bot.model_versions import ModelVersions, active_model_file
from bot.notify import Notifier, TelegramMirror, resolve_endpoint
from bot.quality_gate import QualityGate
from bot.quota import DailyQuota
from bot.retrain import Retrainer, RetrainOptions
from bot.settings import Settings
from bot.storage import open_storage

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 8  # one slow photo must not hold up other users' replies
UPDATES_IN_HAND = 4 * CONCURRENT_UPDATES  # fetched from Telegram: being handled or queued
FLOOD_RETRIES = 3  # AIORateLimiter retries after Telegram's RetryAfter this many times
CONNECTIONS = 256  # python-telegram-bot's default pool for Bot API calls

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(settings: Settings) -> BotApplication:
    """Builder chain, handlers in matching order, error handler last, schedules.

    Services open in post_init. A malformed RETRAIN_CRON or STATUS_CRON raises ValueError here,
    before anything connects.
    """
    root = settings.telegram_api_base_url
    # Updates are confirmed to Telegram only once handled (bot/delivery.py), so the bot is
    # built by hand with the same requests and rate limiter the builder would make.
    ledger = UpdateLedger(UPDATES_IN_HAND)
    bot: ExtBot[None] = LedgerBot(
        ledger,
        token=settings.telegram_bot_token.get_secret_value(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=AiohttpRequest(CONNECTIONS),
        get_updates_request=AiohttpRequest(),
        rate_limiter=AIORateLimiter(
            overall_max_rate=settings.telegram_max_rate, max_retries=FLOOD_RETRIES
        ),
        # Updates are handled concurrently, so a user's quick photos can be answered out of
        # order: each reply quotes the message it answers (and goes out if that was deleted).
        defaults=Defaults(do_quote=True, allow_sending_without_reply=True),
    )
    builder = (
        ApplicationBuilder()
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(LedgerProcessor(ledger, CONCURRENT_UPDATES))
        .post_init(open_services)
        .post_shutdown(close_services)
    )
    if settings.webhook_url:
        # Telegram's POST is answered once the update is handled, not when it is queued, and
        # a stop answers the POSTs in hand before the webhook server closes.
        builder = builder.updater(DrainingUpdater(bot, HandledQueue(ledger)))
    else:
        builder = builder.bot(bot).post_stop(confirm_polled)
    application = builder.build()
    application.bot_data[SETTINGS] = settings

    # Before anything does work: a user over the flood limit goes no further (group -1).
    application.add_handler(TypeHandler(Update, flood.limit_flood), group=-1)
    # Commands first, so "/cluster 3" never reaches the catch-all below.
    application.add_handlers(
        [
            CommandHandler(["start", "help"], info.show_help),
            CommandHandler("model", info.show_model),
            CommandHandler("cluster", info.show_cluster),
            CommandHandler("clusters", info.show_clusters),
            CommandHandler("stats", stats.show_stats),
            CommandHandler("privacy", privacy.show_privacy),
            CommandHandler("export", export.send_export),
            CommandHandler("forget", privacy.ask_forget),
            CommandHandler("name", admin.name_cluster),
            CommandHandler("retrain", admin.retrain_now),
        ]
    )
    # Inline buttons: feedback under replies, the /forget confirmation.
    application.add_handler(CallbackQueryHandler(feedback.record_feedback, feedback.PATTERN))
    application.add_handler(CallbackQueryHandler(privacy.confirm_forget, privacy.PATTERN))
    application.add_handler(CallbackQueryHandler(fallback.answer_unknown_button))
    # Pictures: compressed photos and image files (PNG with transparency included).
    application.add_handler(
        MessageHandler(filters.PHOTO | filters.Document.IMAGE, photos.classify_photo)
    )
    # The true number typed in reply to the bot's answer to a photo.
    application.add_handler(
        MessageHandler(
            filters.REPLY & filters.Regex(feedback.NUMBER) & ~filters.COMMAND,
            feedback.record_number,
        )
    )
    # Unknown commands get the help; anything else is told what to send instead.
    application.add_handler(MessageHandler(filters.COMMAND, info.show_help))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE, fallback.explain_what_to_send)
    )
    application.add_error_handler(fallback.report_error)
    register_jobs(
        application,
        Schedules.from_crontab(
            settings.retrain_cron,
            settings.status_cron,
            settings.retention_days,
            retention_cron=settings.retention_cron,
        ),
    )
    return application


async def open_services(application: BotApplication) -> None:
    """Open the database, load the model, count users' answers, start notifications, register
    the commands."""
    settings: Settings = application.bot_data[SETTINGS]
    storage = await open_storage(
        settings.database_url,
        stored_bytes_cap=settings.stored_bytes_cap,
        migrate_in_child=True,
    )
    application.bot_data[STORAGE] = storage
    # Model files hold what users' photos taught the model: owner-only, like the database.
    settings.models_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    models = ModelProvider(
        settings.models_dir, settings.model_path, processes=settings.model_workers
    )
    application.bot_data[MODELS] = models
    # The active model's file comes from the database when this machine has no copy yet.
    versions = ModelVersions(settings.models_dir)
    active = await active_model_file(storage, versions)
    model = await models.run(models.reload, active[1] if active else None)
    await storage.record_model(model.version, model.metadata)
    meanings = ClusterMeanings(storage, models)
    await meanings.refresh()
    application.bot_data[MEANINGS] = meanings
    application.bot_data[FLOOD] = FloodLimit(storage, *settings.rate_limit)
    application.bot_data[QUOTA] = DailyQuota(
        storage, settings.user_daily_photos, settings.user_daily_bytes
    )
    mirrors = []
    if settings.notify_telegram_admins and settings.admin_ids:
        # The model thread pool draws the pictures that come with some pushes.
        mirrors.append(TelegramMirror(application.bot, sorted(settings.admin_ids), draw=models.run))
    notifier = Notifier(
        resolve_endpoint(settings.notify_run_endpoint),
        action_url=settings.status_url,
        mirrors=mirrors,
        language=settings.push_language,
    )
    await notifier.start()
    await notifier.push(pushes.bot_started(model.version))
    application.bot_data[NOTIFIER] = notifier
    retrainer = Retrainer(
        storage,
        models,
        notifier,
        settings.models_dir,
        gate=QualityGate(
            min_acc=settings.retrain_min_acc,
            acc_margin=settings.retrain_acc_margin,
            max_moved=settings.retrain_max_moved,
        ),
        options=RetrainOptions(
            mnist_dir=settings.mnist_dir,
            limit=settings.retrain_limit,
            user_digits=settings.retrain_user_digits,
        ),
        bot=application.bot,
    )
    await retrainer.recover()
    application.bot_data[RETRAINER] = retrainer
    application.bot_data[MODEL_PICKUP] = ModelPickup(storage, models, versions)
    await register_commands(application, settings)
    log.info("bot ready: model %s, %d clusters", model.version, model.k)


async def confirm_polled(application: BotApplication) -> None:
    """After a clean stop has handled every fetched update, confirm them to Telegram."""
    await confirm_handled(application.bot)


async def close_services(application: BotApplication) -> None:
    """Close what `open_services` opened, newest first; tolerate a half-finished start."""
    application.bot_data.pop(MODEL_PICKUP, None)
    retrainer = application.bot_data.pop(RETRAINER, None)
    if retrainer is not None:
        await retrainer.close()
    notifier = application.bot_data.pop(NOTIFIER, None)
    if notifier is not None:
        await notifier.push(pushes.bot_stopped())
        await notifier.close()
    meanings = application.bot_data.pop(MEANINGS, None)
    if meanings is not None:
        await meanings.close()
    models = application.bot_data.pop(MODELS, None)
    if models is not None:
        models.close()
    storage = application.bot_data.pop(STORAGE, None)
    if storage is not None:
        await storage.close()


async def register_commands(application: BotApplication, settings: Settings) -> None:
    """Everyone sees the public commands; admins also see theirs, where Telegram allows it.

    English is the list for every language without its own (no language_code); each other
    language with a catalog gets its own list.
    """
    for lang in sorted(languages()):
        code = None if lang == SOURCE_LANGUAGE else lang
        public = [BotCommand(name, about) for name, about in texts.commands(lang)]
        await application.bot.set_my_commands(public, language_code=code)
        everything = [BotCommand(name, about) for name, about in texts.commands(lang, admin=True)]
        for admin_id in sorted(settings.admin_ids):
            try:
                await application.bot.set_my_commands(
                    everything, scope=BotCommandScopeChat(admin_id), language_code=code
                )
            except BadRequest as exc:
                log.info("admin commands not shown to %s yet (%s)", admin_id, exc.message)


def allowed_updates() -> list[str]:
    """The update kinds the handlers above use."""
    return [Update.MESSAGE, Update.CALLBACK_QUERY]
