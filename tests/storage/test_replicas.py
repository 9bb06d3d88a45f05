"""What replicas share through the database: promoted model files and job firing claims."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import ModelFile, Storage, open_storage
from bot.storage.serving import KEEP_MODEL_FILES

FIRING = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


async def test_a_promoted_file_comes_back_with_its_digest_and_becomes_active(
    storage: Storage,
) -> None:
    data = bytes(range(256)) * 1000
    await storage.promote_model(ModelFile.of("v1", data), {"k": 10}, "/cache/v1.npz")

    stored = await storage.model_file("v1")
    assert stored is not None
    assert stored.data == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await storage.model_file_sha256("v1") == stored.sha256
    assert stored.intact
    assert not ModelFile("v1", stored.sha256, data[:-1] + b"x").intact
    assert await storage.active_model() == ("v1", "/cache/v1.npz")
    assert await storage.model_file("never-promoted") is None
    assert await storage.model_file_sha256("never-promoted") is None


async def test_only_the_newest_files_are_kept(storage: Storage) -> None:
    versions = [f"v{i}" for i in range(KEEP_MODEL_FILES + 2)]
    for version in versions:
        await storage.promote_model(ModelFile.of(version, version.encode()), {}, version)
    kept = [v for v in versions if await storage.model_file_sha256(v) is not None]
    assert kept == versions[-KEEP_MODEL_FILES:]
    assert await storage.active_model() == (versions[-1], versions[-1])


async def test_each_firing_is_claimed_once_across_processes(database_url: str) -> None:
    first, second = await open_storage(database_url), await open_storage(database_url)
    try:
        claims = await asyncio.gather(
            *(
                store.claim_job("status-report", FIRING, f"replica-{n}")
                for n in range(8)
                for store in (first, second)
            )
        )
        assert sorted(claims) == [False] * 15 + [True]
        assert await second.claim_job("retrain", FIRING, "replica-2")
        later = FIRING + timedelta(days=1)
        assert await first.claim_job("status-report", later, "replica-1")
        assert await second.previous_firing("status-report", later) == FIRING
        assert await second.previous_firing("status-report", FIRING) is None
        with pytest.raises(ValueError, match="timezone-aware"):
            await first.claim_job("retrain", datetime(2026, 12, 1), "replica-1")
    finally:
        await first.close()
        await second.close()
