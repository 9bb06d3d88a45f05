"""`python -m bot`: long polling, or a webhook server when WEBHOOK_URL is set."""

from __future__ import annotations

import hashlib
import logging
import sys
from urllib.parse import urlsplit

from telegram.error import InvalidToken, NetworkError

from bot.app import UPDATES_IN_HAND, allowed_updates, build_application
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.storage import StorageError
from model.serving.modelfile import ModelFileError

log = logging.getLogger("bot")


def main() -> int:
    """Run until SIGINT/SIGTERM; configuration and start-up problems are one line, exit 2/1."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"digit-cluster-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.telegram_bot_token.get_secret_value())
    try:
        application = build_application(settings)
    except ValueError as exc:
        print(f"digit-cluster-bot: {exc}", file=sys.stderr)
        return 2
    try:
        if settings.webhook_url:
            application.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                webhook_url=settings.webhook_url,
                secret_token=webhook_secret(settings),
                allowed_updates=allowed_updates(),
                # Requests in flight are updates in hand, as many as polling allows.
                max_connections=UPDATES_IN_HAND,
            )
        else:
            application.run_polling(allowed_updates=allowed_updates())
    except InvalidToken:
        print(
            "digit-cluster-bot: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather "
            "(/mybots, API Token).",
            file=sys.stderr,
        )
        return 1
    except NetworkError as exc:
        print(
            f"digit-cluster-bot: cannot reach the Bot API at {settings.telegram_api_base_url} "
            f"({exc.message}).",
            file=sys.stderr,
        )
        return 1
    except (ModelFileError, StorageError) as exc:
        print(f"digit-cluster-bot: {exc}", file=sys.stderr)
        return 1
    return 0


def webhook_secret(settings: Settings) -> str:
    """A secret Telegram echoes in a header, so only Telegram can post updates to the webhook.

    Derived from the token, it is the same on every replica: each replica's setWebhook at
    start (same URL, same secret, pending updates kept) leaves the others' deliveries alone.
    """
    token = settings.telegram_bot_token.get_secret_value().encode()
    return hashlib.sha256(b"webhook:" + token).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
