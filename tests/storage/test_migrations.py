"""Alembic migrations from an empty database and from the previous revision with data in it."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.storage import StorageError, open_storage
from bot.storage.engine import SCHEMA_HEAD, alembic_config, create_db_engine, upgrade
from bot.storage.schema import cluster_names, images, metadata, model_versions, retrain_runs

STARTED = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
MNIST = np.arange(784, dtype=np.uint32).astype(np.uint8).reshape(28, 28)


def _revision(database_url: str) -> str | None:
    engine = create_db_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


async def test_an_empty_database_migrates_to_a_schema_matching_the_code(database_url: str) -> None:
    storage = await open_storage(database_url)
    await storage.close()

    engine = create_db_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()

    assert differences == []
    assert _revision(database_url) == SCHEMA_HEAD


async def test_opening_a_migrated_database_again_changes_nothing(database_url: str) -> None:
    first = await open_storage(database_url)
    run_id = await first.try_start_retrain("admin", "bot-1")
    await first.close()

    second = await open_storage(database_url)
    run = await second.last_retrain()
    await second.close()

    assert run is not None
    assert run.id == run_id
    assert _revision(database_url) == SCHEMA_HEAD


def _fill_revision_0001(database_url: str) -> None:
    """A database as the first release left it: schema 0001 and some rows."""
    engine = create_db_engine(database_url, pool_size=1)
    try:
        upgrade(engine, "0001")
        with engine.begin() as connection:
            connection.execute(
                images.insert().values(
                    chat_id=5,
                    user_id=6,
                    message_id=7,
                    received_at=STARTED,
                    original=b"\x89PNG old photo",
                    mime_type="image/png",
                    size_bytes=14,
                    sha256="0" * 64,
                    mnist=MNIST.tobytes(),
                    cluster=2,
                    distance=1.0,
                    typicality=0.5,
                    is_outlier=False,
                    model_version="v0",
                    feedback_digit=2,
                    feedback_at=STARTED,
                )
            )
            connection.execute(
                retrain_runs.insert().values(
                    trigger="schedule", owner="old-bot", state="running", started_at=STARTED
                )
            )
            connection.execute(
                cluster_names.insert().values(cluster=2, name="twos", set_by=1, set_at=STARTED)
            )
            connection.execute(
                model_versions.insert().values(
                    version="v0", metadata={"cluster_to_digit": {"2": 2}}, first_served_at=STARTED
                )
            )
    finally:
        engine.dispose()


async def test_a_database_at_the_previous_revision_upgrades_with_its_data(
    database_url: str,
) -> None:
    _fill_revision_0001(database_url)
    assert _revision(database_url) == "0001"

    storage = await open_storage(database_url)
    try:
        image = await storage.find_image(5, 7)
        run = await storage.last_retrain()
        names = await storage.cluster_names()
        stats = await storage.global_stats(STARTED)
        report = await storage.status_report(STARTED)
        await storage.set_active_model("v1", "/models/v1.npz")
        active = await storage.active_model()
    finally:
        await storage.close()

    assert _revision(database_url) == SCHEMA_HEAD
    assert image is not None
    assert (image.original, image.received_at, image.feedback_digit) == (
        b"\x89PNG old photo",
        STARTED,
        2,
    )
    np.testing.assert_array_equal(image.digit.mnist, MNIST)
    assert run is not None
    assert run.heartbeat_at == run.started_at == STARTED
    assert names == {2: "twos"}
    assert (stats.accuracy.feedback, stats.accuracy.matching) == (1, 1)
    assert report.original_bytes == 14  # the stored bytes counted when 0006 added the count
    assert image.repeated is False
    assert active == ("v1", "/models/v1.npz")


async def test_downgrading_to_the_previous_revision_and_back_keeps_images(
    database_url: str,
) -> None:
    _fill_revision_0001(database_url)
    engine = create_db_engine(database_url, pool_size=1)
    try:
        upgrade(engine)
        command.downgrade(alembic_config(engine), "0001")
        with engine.connect() as connection:
            at_0001 = connection.execute(text("SELECT count(*) FROM images")).scalar_one()
        upgrade(engine)
    finally:
        engine.dispose()

    storage = await open_storage(database_url)
    run = await storage.last_retrain()
    await storage.close()

    assert at_0001 == 1
    assert run is not None
    assert run.heartbeat_at == STARTED


async def test_the_default_sqlite_file_is_private_and_tuned(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"

    storage = await open_storage(f"sqlite:///{path}")
    await storage.close()
    engine = create_db_engine(f"sqlite:///{path}", pool_size=1)
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "secure_delete")
            }
    finally:
        engine.dispose()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "secure_delete": 1}


async def test_processes_starting_together_on_an_empty_database_both_migrate(
    database_url: str,
) -> None:
    stores = await asyncio.gather(*(open_storage(database_url) for _ in range(3)))
    run_ids = [await store.try_start_retrain("schedule", "bot") for store in stores]
    for store in stores:
        await store.close()

    assert _revision(database_url) == SCHEMA_HEAD
    assert sum(run_id is not None for run_id in run_ids) == 1


START_ONE_BOT = """
import asyncio, sys
from bot.storage import open_storage

async def main():
    store = await open_storage(sys.argv[1])
    print(await store.try_start_retrain("schedule", "process"))
    await store.close()

asyncio.run(main())
"""


def test_processes_starting_together_on_an_empty_database_all_migrate(
    database_url: str,
) -> None:
    bots = [
        subprocess.Popen(
            [sys.executable, "-c", START_ONE_BOT, database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(bot.wait(timeout=120), *bot.communicate()) for bot in bots]

    assert [code for code, _, _ in outcomes] == [0, 0, 0], [err for _, _, err in outcomes]
    assert sorted(out.strip() == "None" for _, out, _ in outcomes) == [False, True, True]
    assert _revision(database_url) == SCHEMA_HEAD


def test_the_schema_head_is_the_newest_migration(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bot.sqlite3'}", pool_size=1)
    try:
        scripts = ScriptDirectory.from_config(alembic_config(engine))
    finally:
        engine.dispose()
    assert scripts.get_current_head() == SCHEMA_HEAD


OPEN_AND_SAY_IF_ALEMBIC_LOADED = """
import asyncio, sys
from bot.storage import open_storage

async def main():
    store = await open_storage(sys.argv[1])
    await store.close()
    print("alembic" in sys.modules)

asyncio.run(main())
"""


def test_a_database_at_head_opens_without_loading_alembic(database_url: str) -> None:
    def start() -> str:
        return subprocess.run(
            [sys.executable, "-c", OPEN_AND_SAY_IF_ALEMBIC_LOADED, database_url],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()

    assert start() == "True"  # the first start migrates
    assert start() == "False"
    assert _revision(database_url) == SCHEMA_HEAD


MIGRATE_IN_CHILD_AND_SAY_IF_ALEMBIC_LOADED = """
import asyncio, sys
from bot.storage import open_storage

async def main():
    store = await open_storage(sys.argv[1], migrate_in_child=True)
    await store.close()
    print("alembic" in sys.modules)

asyncio.run(main())
"""


def test_the_bot_migrates_in_a_child_process_and_never_loads_alembic(database_url: str) -> None:
    said = subprocess.run(
        [sys.executable, "-c", MIGRATE_IN_CHILD_AND_SAY_IF_ALEMBIC_LOADED, database_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert said.stdout.strip() == "False"
    assert _revision(database_url) == SCHEMA_HEAD


async def test_a_failed_migration_in_the_child_says_why(database_url: str) -> None:
    storage = await open_storage(database_url)
    await storage.close()
    engine = create_db_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:  # as a newer release of the bot leaves it
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()

    with pytest.raises(StorageError, match=r"cannot migrate database .*'9999'") as raised:
        await open_storage(database_url, migrate_in_child=True)
    assert "\n" not in str(raised.value)
