"""Two `python -m bot` replicas on one PostgreSQL behind a round-robin proxy, in webhook mode.

The local Bot API stand-in posts every update to the proxy and posts it again until a 2xx
comes back, as Telegram does; the proxy answers 502 for a replica that is gone. Each
replica has its own working and models directory, as on its own machine.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from bot.app import CONCURRENT_UPDATES
from bot.jobs import RETENTION_JOB, RETRAIN_JOB, STATUS_JOB, cron
from bot.storage.schema import job_runs, model_files, retrain_runs
from model.mnist import Mnist
from testkit.fake_notify import FakeNotifyRun
from testkit.load_driver import LoadRun, check, message_mix
from testkit.postgres_schema import fresh_schema, schema_url
from testkit.replicas import Replicas, listening, replicas_behind_proxy, setwebhook_calls

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN = 777
CHECKER = 778  # a user who asks /model to see which model each replica serves
EVERY_5_S = "*/5 * * * * *"


@pytest.fixture
def shared_database(postgres_url: str) -> Iterator[str]:
    """A fresh schema on the local PostgreSQL, shared by the replicas of one test."""
    with fresh_schema(postgres_url) as schema:
        yield schema_url(postgres_url, schema)


def _rows(database_url: str, query: object) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(query))  # type: ignore[call-overload]
    finally:
        engine.dispose()


async def _nothing(i: int) -> None:
    return None


async def _ask_model(replicas: Replicas) -> tuple[str, list[int]]:
    """/model from the checker: the reply's text, and which replica answered."""
    telegram = replicas.telegram
    before = len(telegram.sent.get(CHECKER, []))
    message_id = telegram.send_text(CHECKER, CHECKER, "/model")
    replies = await telegram.wait_for_replies(CHECKER, before + 1, within=60)
    async with asyncio.timeout(10):
        while True:  # the replica answers the proxy just after it has replied
            if by := replicas.proxy.handled_by(CHECKER, message_id):
                return replies[before]["text"], by
            await asyncio.sleep(0.02)


@pytest.mark.timeout(400)
async def test_two_replicas_answer_each_photo_once_and_serve_a_model_promoted_by_either(
    tmp_path: Path,
    model_path: Path,
    mnist: Mnist,
    mnist_dir: Path,
    shared_database: str,
    fake_notify: FakeNotifyRun,
) -> None:
    env = {
        "ADMIN_IDS": str(ADMIN),
        "MNIST_DIR": str(mnist_dir),
        "RETRAIN_LIMIT": "300",
        "RETRAIN_MIN_ACC": "0.3",
        "RETRAIN_ACC_MARGIN": "1",
        "RETRAIN_MAX_MOVED": "1",
        "NOTIFY_RUN_ENDPOINT": fake_notify.url,
        "MODEL_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    async with replicas_behind_proxy(tmp_path, model_path, shared_database, **env) as replicas:
        telegram = replicas.telegram
        run = LoadRun(telegram, users=20, mix=message_mix(mnist.test_images[:60]))
        await run.at_rate(150, rate=20, on_tick=_nothing)
        await run.drain()
        share = replicas.share()

        telegram.send_text(ADMIN, ADMIN, "/retrain")
        ended = await telegram.wait_for_replies(ADMIN, 2, within=300)
        [(owner, outcome)] = await asyncio.to_thread(
            _rows, shared_database, select(retrain_runs.c.owner, retrain_runs.c.outcome)
        )
        trainer = [replicas.owner_of(i) for i in (0, 1)].index(owner)
        other = 1 - trainer
        [(version, stored)] = await asyncio.to_thread(
            _rows, shared_database, select(model_files.c.version, model_files.c.data)
        )
        promoted_at = time.monotonic()
        async with asyncio.timeout(60):
            while True:  # the other replica's pick-up job fetches it from the database
                if f"serving model {version}" in replicas.log(other):
                    break
                await asyncio.sleep(0.2)
        picked_up_after = time.monotonic() - promoted_at
        answers = [await _ask_model(replicas) for _ in range(4)]
        cached = replicas.workdirs[other] / "models" / f"{version}.npz"
        cached_bytes = await asyncio.to_thread(cached.read_bytes)
        promoted = replicas.workdirs[trainer] / "models" / f"{version}.npz"
        promoted_bytes = await asyncio.to_thread(promoted.read_bytes)
        await asyncio.sleep(0.5)  # a duplicate reply would show by now
        admin_replies = list(telegram.sent[ADMIN])
        webhooks = setwebhook_calls(telegram)
    checks = check(run, shared_database)

    # Every photo answered once and stored once, the work shared by both replicas.
    assert checks.messages == 150
    assert checks.unanswered == []
    assert checks.answered_twice == []
    assert checks.stray == []
    assert checks.stored == checks.pictures_replied == checks.pictures_sent > 80
    assert checks.stored_not_accepted == checks.accepted_not_stored == set()
    assert min(share) > 0.25, share
    # Each replica set the same webhook (idempotent: same URL and secret, nothing dropped).
    assert webhooks == {(replicas.proxy.url, next(iter(webhooks))[1]): 2}
    assert telegram.calls_of("deleteWebhook") == []
    # The retraining ran on one replica; the other serves its model, fetched from the database.
    assert outcome == "succeeded"
    assert len(admin_replies) == len(ended) == 2
    assert ended[1]["text"].startswith("✅ Retrained in ")
    assert f"model {version}" in ended[1]["text"]
    assert picked_up_after < 60
    assert cached_bytes == stored == promoted_bytes
    assert all(version in text for text, _ in answers), answers
    assert {tuple(by) for _, by in answers} == {(0,), (1,)}
    assert replicas.workdirs[trainer] != replicas.workdirs[other]
    # One push per event: the run's start and end once; a start per replica.
    messages = fake_notify.messages
    assert sum(m.startswith("🔄 Retraining started") for m in messages) == 1
    assert sum(m.startswith("✅ Retrained") for m in messages) == 1
    assert sum(m.startswith("▶️") for m in messages) == 2


@pytest.mark.timeout(300)
async def test_kill_9_of_one_replica_mid_load_loses_nothing_and_the_survivor_carries_on(
    tmp_path: Path, model_path: Path, mnist: Mnist, shared_database: str
) -> None:
    """The dead replica's unanswered requests fail at the proxy; the stand-in sends them again
    and the survivor answers. A repeat is possible only for a reply the dead replica had sent
    but not yet recorded as answered (as with one process, tests/system/test_faults_load.py)."""
    killed_at = 0.0
    handled_by_dead = -1
    unconfirmed_at_kill: set[tuple[int, int]] = set()
    env = {"MODEL_WORKERS": "1"}
    async with replicas_behind_proxy(tmp_path, model_path, shared_database, **env) as replicas:
        telegram, proxy = replicas.telegram, replicas.proxy
        run = LoadRun(telegram, users=20, mix=message_mix(mnist.test_images[:60]))

        async def kill_with_updates_in_hand(i: int) -> None:
            nonlocal killed_at, handled_by_dead, unconfirmed_at_kill
            if i < 80 or handled_by_dead >= 0:
                return
            # A fast machine answers between two ticks, so at a tick the replica seldom holds
            # a request: wait up to a second for the one just sent to reach it.
            for _ in range(1000):
                if proxy.upstreams[0].in_flight > 0:
                    break
                await asyncio.sleep(0.001)
            if proxy.upstreams[0].in_flight > 0:
                await replicas.bots[0].kill()
                handled_by_dead = proxy.upstreams[0].handled
                killed_at = time.perf_counter()
                unconfirmed_at_kill = telegram.unconfirmed()

        await run.at_rate(240, rate=20, on_tick=kill_with_updates_in_hand)
        await run.drain(within=120)
        survivor_alive = replicas.bots[1].process is not None and (
            replicas.bots[1].process.returncode is None
        )
    checks = check(run, shared_database)
    dead, survivor = proxy.upstreams

    assert handled_by_dead >= 0, "the kill never happened"
    assert dead.handled == handled_by_dead  # nothing reached the dead replica after the kill
    assert dead.failed > 0  # its requests in hand and later forwards failed...
    assert telegram.webhook_failures >= dead.failed  # ...and the stand-in sent them again
    assert survivor.handled > 240 / 2
    assert survivor_alive
    assert checks.unanswered == []
    assert checks.accepted_not_stored == checks.stored_not_accepted == set()
    assert checks.stored == checks.pictures_sent
    assert checks.stray == []
    assert len(checks.answered_twice) <= CONCURRENT_UPDATES
    for repeated in checks.answered_twice:
        message = (repeated.chat, repeated.message_id)
        first, again = checks.reply_times[message]  # twice, never three times
        assert first <= killed_at < again  # replied by the dead replica, then the survivor
        assert message in unconfirmed_at_kill  # ...which had not confirmed it to Telegram


@pytest.mark.timeout(300)
async def test_a_rolling_restart_mid_load_loses_nothing_and_answers_nothing_twice(
    tmp_path: Path, model_path: Path, mnist: Mnist, shared_database: str
) -> None:
    """SIGTERM one replica, start it again, then the other, as docs/deploy.md says to: a
    stopping replica answers what it holds, the stand-in re-sends what it refused."""
    exit_codes: list[int] = []
    env = {"MODEL_WORKERS": "1"}
    async with replicas_behind_proxy(tmp_path, model_path, shared_database, **env) as replicas:
        run = LoadRun(replicas.telegram, users=20, mix=message_mix(mnist.test_images[:60]))

        async def restart_one_by_one() -> None:
            for bot, upstream in zip(replicas.bots, replicas.proxy.upstreams, strict=True):
                exit_codes.append(await bot.stop())
                await bot.start()
                await listening(bot, upstream.port)

        await run.at_rate(40, rate=20, on_tick=_nothing)
        rolling = asyncio.create_task(restart_one_by_one())
        while not rolling.done():  # the load goes on for as long as the restarts take
            await run.at_rate(20, rate=20, on_tick=_nothing)
        await rolling
        await run.at_rate(40, rate=20, on_tick=_nothing)
        await run.drain(within=120)
        starts = [bot.starts for bot in replicas.bots]
        refused = [upstream.failed for upstream in replicas.proxy.upstreams]
    checks = check(run, shared_database)

    assert exit_codes == [0, 0]
    assert starts == [2, 2]
    assert min(refused) > 0, refused  # each was down a while; those updates came again
    assert checks.unanswered == []
    assert checks.answered_twice == []
    assert checks.stray == []
    assert checks.accepted_not_stored == checks.stored_not_accepted == set()
    assert checks.stored == checks.pictures_sent


@pytest.mark.timeout(200)
async def test_a_stopping_replica_answers_telegram_for_the_update_it_holds(
    tmp_path: Path, model_path: Path, shared_database: str
) -> None:
    """SIGTERM while a reply is slow: the stopping replica sends it and answers the webhook 200.

    A cut connection instead would have the stand-in deliver the update again to the other
    replica, which would reply a second time: only photos are deduplicated by the database.
    """
    async with replicas_behind_proxy(
        tmp_path, model_path, shared_database, MODEL_WORKERS="1"
    ) as replicas:
        telegram, proxy = replicas.telegram, replicas.proxy
        telegram.delay_next("sendMessage", 3.0)
        message_id = telegram.send_text(CHECKER, CHECKER, "hello")
        async with asyncio.timeout(30):
            while True:  # the text has reached a replica, which is sending its slow reply
                holding = [i for i, upstream in enumerate(proxy.upstreams) if upstream.in_flight]
                if holding:
                    break
                await asyncio.sleep(0.01)
        holder = holding[0]
        exit_code = await replicas.bots[holder].stop()
        async with asyncio.timeout(30):
            while True:  # a refused delivery would be made again, to the other replica
                if not telegram.unconfirmed():
                    break
                await asyncio.sleep(0.05)
        replies = list(telegram.sent.get(CHECKER, []))

    assert exit_code == 0
    assert proxy.handled_by(CHECKER, message_id) == [holder]
    assert proxy.upstreams[holder].failed == 0
    assert telegram.webhook_failures == 0
    assert [reply.get("reply_to_message_id") for reply in replies] == [message_id]


def _expected_firings(expression: str, start: datetime, end: datetime) -> list[datetime]:
    trigger, fires = cron(expression, name="test"), []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire < end:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return fires


@pytest.mark.timeout(200)
async def test_each_scheduled_job_runs_once_per_firing_across_two_replicas(
    tmp_path: Path,
    model_path: Path,
    shared_database: str,
    fake_notify: FakeNotifyRun,
    broken_mnist_dir: Path,
) -> None:
    """Both replicas fire every job every five seconds; each firing runs in one of them.

    Retraining fails at once here (MNIST files failing their checksum), so every firing can
    start a run of its own.
    """
    env = {
        "STATUS_CRON": EVERY_5_S,
        "RETRAIN_CRON": EVERY_5_S,
        "RETENTION_CRON": EVERY_5_S,
        "RETENTION_DAYS": "1",
        "MNIST_DIR": str(broken_mnist_dir),
        "NOTIFY_RUN_ENDPOINT": fake_notify.url,
        "MODEL_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    async with replicas_behind_proxy(tmp_path, model_path, shared_database, **env) as replicas:
        both_up = datetime.now(UTC)
        await asyncio.sleep(21)
        until = datetime.now(UTC) - timedelta(seconds=1)
        await asyncio.sleep(2)  # the last firing's retraining ends
        owners = [replicas.owner_of(i) for i in (0, 1)]
    logs = replicas.log(0) + replicas.log(1)
    claims = await asyncio.to_thread(
        _rows, shared_database, select(job_runs.c.job, job_runs.c.fire_time, job_runs.c.claimed_by)
    )
    runs = await asyncio.to_thread(
        _rows, shared_database, select(retrain_runs.c.trigger, retrain_runs.c.outcome)
    )
    expected = _expected_firings(EVERY_5_S, both_up, until)
    firings = {
        job: sorted(t for j, t, _ in claims if j == job)
        for job in (STATUS_JOB, RETRAIN_JOB, RETENTION_JOB)
    }

    assert len(expected) >= 3
    for job, fired in firings.items():
        # Every firing while both ran was claimed (once: the primary key admits no second).
        assert set(expected) <= set(fired), job
    assert {by for _, _, by in claims} <= set(owners)
    # Status reports: one push per firing, not one per replica.
    status_pushes = [m for m in fake_notify.messages if m.startswith("📊")]
    assert len(status_pushes) == len(firings[STATUS_JOB])
    # Retraining: each firing started one run, or was logged as skipped behind a running one.
    skipped = len(re.findall(r"scheduled retraining of .* skipped", logs))
    assert len(runs) + skipped == len(firings[RETRAIN_JOB])
    assert all(trigger == "schedule" for trigger, _ in runs)
    started = [m for m in fake_notify.messages if m.startswith("🔄 Retraining started")]
    assert len(started) == len(runs)
    # Retention: each firing purged in exactly one replica.
    purged = re.findall(r"retention of (\S+ \S+): erased", logs)
    assert len(purged) == len(set(purged)) == len(firings[RETENTION_JOB])
