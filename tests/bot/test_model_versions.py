"""The database as the one source of model files: a version promoted on one machine reaches
a replica that never saw the file, through its local cache, SHA-256 checked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from bot.model_pickup import ModelPickup
from bot.model_provider import ModelProvider
from bot.model_versions import ModelVersions
from bot.storage import Storage, open_storage
from bot.storage.schema import model_files
from model.serving.modelfile import load_model, save_model

PROMOTED = "20261201T000000Z-abcdef"


@dataclass
class Replica:
    """What one bot process on its own machine holds: its own models dir, a shared database."""

    storage: Storage
    provider: ModelProvider
    pickup: ModelPickup
    versions: ModelVersions


@pytest.fixture
async def replica(database_url: str, tmp_path: Path, model_path: Path) -> AsyncIterator[Replica]:
    storage = await open_storage(database_url)
    models_dir = tmp_path / "replica-b" / "models"
    provider = ModelProvider(models_dir, model_path, processes=1)
    await provider.run(provider.reload)
    versions = ModelVersions(models_dir)
    yield Replica(storage, provider, ModelPickup(storage, provider, versions), versions)
    provider.close()
    await storage.close()


async def _promote_elsewhere(storage: Storage, model_path: Path, tmp_path: Path) -> Path:
    """What replica A's retraining leaves: its own file, and the bytes in the database."""
    elsewhere = ModelVersions(tmp_path / "replica-a" / "models")
    elsewhere.models_dir.mkdir(parents=True)
    model = load_model(model_path)
    model.metadata = dict(model.metadata, version=PROMOTED)
    save_model(model, elsewhere.version_path(PROMOTED))
    await storage.promote_model(
        elsewhere.stored_file(PROMOTED), model.metadata, str(elsewhere.version_path(PROMOTED))
    )
    return elsewhere.version_path(PROMOTED)


async def test_a_version_promoted_elsewhere_is_fetched_cached_and_served(
    replica: Replica, model_path: Path, tmp_path: Path
) -> None:
    shipped = replica.provider.current.version
    original = await _promote_elsewhere(replica.storage, model_path, tmp_path)
    original.unlink()  # nothing of replica A's disk is reachable from here

    assert await replica.pickup.pick_up()
    cached = replica.versions.version_path(PROMOTED)
    assert replica.provider.current.version == PROMOTED != shipped
    assert replica.provider.current_path == cached
    stored = await replica.storage.model_file(PROMOTED)
    assert stored is not None
    assert cached.read_bytes() == stored.data
    assert not await replica.pickup.pick_up()  # nothing new: nothing loaded


async def test_bytes_damaged_in_the_database_are_refused_and_the_model_kept(
    replica: Replica,
    model_path: Path,
    tmp_path: Path,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serving = replica.provider.current
    await _promote_elsewhere(replica.storage, model_path, tmp_path)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(model_files).values(data=b"x" * 100, size_bytes=100))
    engine.dispose()

    with caplog.at_level(logging.WARNING):
        assert not await replica.pickup.pick_up()
    assert replica.provider.current is serving
    assert f"model {PROMOTED} in the database does not match its SHA-256" in caplog.text
    assert not replica.versions.version_path(PROMOTED).exists()


async def test_a_damaged_local_copy_is_fetched_again(
    replica: Replica, model_path: Path, tmp_path: Path
) -> None:
    await _promote_elsewhere(replica.storage, model_path, tmp_path)
    cached = replica.versions.version_path(PROMOTED)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"flipped bits")

    assert await replica.pickup.pick_up()
    assert replica.provider.current.version == PROMOTED
    stored = await replica.storage.model_file(PROMOTED)
    assert stored is not None
    assert cached.read_bytes() == stored.data
