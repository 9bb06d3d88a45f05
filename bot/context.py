"""The typed callback context: handlers reach the services put in bot_data by `post_init`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ExtBot

if TYPE_CHECKING:
    from bot.flood import FloodLimit
    from bot.meanings import ClusterMeanings
    from bot.model_pickup import ModelPickup
    from bot.model_provider import ModelProvider
    from bot.notify import Notifier
    from bot.quota import DailyQuota
    from bot.retrain import Retrainer
    from bot.settings import Settings
    from bot.storage import Storage

# The keys of the services in bot_data, one each.
SETTINGS = "settings"
STORAGE = "storage"
MODELS = "models"
NOTIFIER = "notifier"
RETRAINER = "retrainer"
MODEL_PICKUP = "model-pickup"
FLOOD = "flood"
QUOTA = "quota"
MEANINGS = "meanings"
ERROR_PUSHES = "error-pushes"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]):
    """`CallbackContext` with the bot's services as typed attributes instead of dict lookups."""

    @property
    def settings(self) -> Settings:
        return self.bot_data[SETTINGS]

    @property
    def storage(self) -> Storage:
        return self.bot_data[STORAGE]

    @property
    def models(self) -> ModelProvider:
        return self.bot_data[MODELS]

    @property
    def notifier(self) -> Notifier:
        return self.bot_data[NOTIFIER]

    @property
    def retrainer(self) -> Retrainer:
        return self.bot_data[RETRAINER]

    @property
    def model_pickup(self) -> ModelPickup:
        return self.bot_data[MODEL_PICKUP]

    @property
    def flood(self) -> FloodLimit:
        return self.bot_data[FLOOD]

    @property
    def quota(self) -> DailyQuota:
        return self.bot_data[QUOTA]

    @property
    def meanings(self) -> ClusterMeanings:
        return self.bot_data[MEANINGS]
