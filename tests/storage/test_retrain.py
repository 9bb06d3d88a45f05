"""The retraining lock shared through the database, heartbeats, stale runs, the active model."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.storage import Storage, open_storage


async def test_a_second_start_is_refused_while_a_run_is_running(storage: Storage) -> None:
    run_id = await storage.try_start_retrain("admin", "bot-1")

    assert run_id is not None
    assert await storage.try_start_retrain("schedule", "bot-1") is None


async def test_concurrent_starts_admit_exactly_one(storage: Storage) -> None:
    runs = await asyncio.gather(*(storage.try_start_retrain("admin", f"t{i}") for i in range(12)))

    assert sum(run is not None for run in runs) == 1


async def test_the_lock_holds_across_two_storage_instances(database_url: str) -> None:
    first = await open_storage(database_url)
    second = await open_storage(database_url)
    try:
        run_id = await first.try_start_retrain("schedule", "process-a")
        assert run_id is not None
        refused = await second.try_start_retrain("admin", "process-b")
        await first.finish_retrain(run_id, "succeeded", "ok", {"acc": 0.9})
        admitted = await second.try_start_retrain("admin", "process-b")
    finally:
        await first.close()
        await second.close()

    assert refused is None
    assert admitted is not None


async def test_finishing_releases_the_lock_and_records_the_outcome(storage: Storage) -> None:
    run_id = await storage.try_start_retrain("admin", "bot-1")
    assert run_id is not None
    metrics = {"acc": 0.93, "nmi": 0.87, "ari": 0.85, "cluster_sizes": [6000, 5900]}

    assert await storage.finish_retrain(run_id, "succeeded", "swapped in v2", metrics)
    assert not await storage.finish_retrain(run_id, "failed", "twice", None)

    run = await storage.last_retrain()
    assert run is not None
    assert (run.id, run.trigger, run.owner, run.state) == (run_id, "admin", "bot-1", "finished")
    assert (run.outcome, run.detail, run.metrics) == ("succeeded", "swapped in v2", metrics)
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at
    assert await storage.try_start_retrain("schedule", "bot-1") not in {None, run_id}


async def test_running_is_not_an_outcome(storage: Storage) -> None:
    run_id = await storage.try_start_retrain("admin", "bot-1")
    assert run_id is not None

    with pytest.raises(ValueError, match="outcome"):
        await storage.finish_retrain(run_id, "running", "", None)


async def test_stale_runs_fail_and_free_the_lock(storage: Storage) -> None:
    run_id = await storage.try_start_retrain("schedule", "crashed-process")
    assert run_id is not None

    assert await storage.fail_stale_retrains(timedelta(hours=1)) == 0
    assert await storage.heartbeat_retrain(run_id)
    assert await storage.fail_stale_retrains(timedelta(0)) == 1

    run = await storage.last_retrain()
    assert run is not None
    assert (run.state, run.outcome) == ("finished", "failed")
    assert run.detail is not None
    assert "heartbeat" in run.detail
    assert not await storage.heartbeat_retrain(run_id)
    assert not await storage.finish_retrain(run_id, "succeeded", "too late", None)
    assert await storage.try_start_retrain("schedule", "bot-2") is not None


async def test_no_retrain_yet(storage: Storage) -> None:
    assert await storage.last_retrain() is None
    assert await storage.fail_stale_retrains(timedelta(0)) == 0


async def test_the_active_model_is_shared_by_every_instance(database_url: str) -> None:
    first = await open_storage(database_url)
    second = await open_storage(database_url)
    try:
        before = await second.active_model()
        await first.set_active_model("v1", "/srv/models/v1.npz")
        await first.set_active_model("v2", "/srv/models/v2.npz")
        after = await second.active_model()
    finally:
        await first.close()
        await second.close()

    assert before is None
    assert after == ("v2", "/srv/models/v2.npz")


async def test_cluster_names_are_set_renamed_and_trimmed(storage: Storage) -> None:
    await storage.set_cluster_name(0, "  zeros ", set_by=1)
    await storage.set_cluster_name(7, "sevens", set_by=1)
    await storage.set_cluster_name(7, "crossed 7", set_by=2)

    assert await storage.cluster_names() == {0: "zeros", 7: "crossed 7"}


async def test_a_rename_shows_here_at_once_and_in_another_process_once_fresh(
    storage: Storage, database_url: str
) -> None:
    """The other process's names are read again once 30 s old, by a clock the test moves."""
    now = [1000.0]
    other = await open_storage(database_url, names_fresh_for=30.0, clock=lambda: now[0])
    try:
        await storage.set_cluster_name(4, "fours", set_by=1)
        assert await storage.cluster_names() == await other.cluster_names() == {4: "fours"}

        await storage.set_cluster_name(4, "open fours", set_by=1)
        assert await storage.cluster_names() == {4: "open fours"}
        now[0] += 29.9
        assert await other.cluster_names() == {4: "fours"}  # read 29.9 s ago: still fresh
        now[0] += 0.1
        assert await other.cluster_names() == {4: "open fours"}
    finally:
        await other.close()


@pytest.mark.parametrize("name", ["", "   ", "x" * 65])
async def test_a_cluster_name_must_fit(storage: Storage, name: str) -> None:
    with pytest.raises(ValueError, match="1 to 64"):
        await storage.set_cluster_name(1, name, set_by=1)
