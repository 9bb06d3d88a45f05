"""Serve the model another replica promoted: several bots on one database serve one model.

A retraining promotes its model into the database (`Storage.promote_model`); every replica,
the one that trained included, checks the active version on a schedule (`bot/jobs.py`) and
swaps to it when it differs from the one it serves.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.model_versions import ModelVersions, active_model_file
from model.serving.modelfile import ModelFileError, load_model

if TYPE_CHECKING:
    from bot.model_provider import ModelProvider
    from bot.storage import Storage

log = logging.getLogger(__name__)


class ModelPickup:
    """Swaps the served model for the database's active one when they differ."""

    def __init__(self, storage: Storage, provider: ModelProvider, versions: ModelVersions) -> None:
        self.storage = storage
        self.provider = provider
        self.versions = versions

    async def pick_up(self) -> bool:
        """Serve the model another process promoted, if it differs from ours; True if swapped.

        Its file comes from the database into the local cache (SHA-256 checked) when this
        machine has no good copy yet.
        """
        active = await self.storage.active_model()
        if active is None or active[0] == self.provider.current.version:
            return False
        fetched = await active_model_file(self.storage, self.versions)
        if fetched is None:
            return False
        version, path = fetched
        try:
            model = await self.provider.run(load_model, path)
        except ModelFileError as exc:
            log.warning("cannot pick up model %s: %s", version, exc)
            return False
        self.provider.swap(model, path)
        return True
