"""``Storage``: the async face of the database, and ``open_storage``, which migrates first.

Sync SQLAlchemy runs in a small thread pool whose size matches the connection pool, so the
event loop never waits on the database and a burst of photos queues instead of piling up
connections. Connection failures become ``StorageUnavailableError``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.storage import (
    answers,
    erasure,
    exports,
    flood,
    images,
    jobs,
    retrains,
    serving,
    stats,
    training,
)
from bot.storage.activity import Activity, count_activity
from bot.storage.engine import (
    SCHEMA_HEAD,
    create_db_engine,
    first_line_of,
    safe_url,
    schema_revision,
    upgrade,
)
from bot.storage.migrate import migrate_in_child
from bot.storage.records import (
    AnsweredDigits,
    DailyUsage,
    ExportedDigit,
    FloodWindow,
    GlobalStats,
    IncomingImage,
    ModelFile,
    RetrainRun,
    SaveResult,
    StatusReport,
    StorageUnavailableError,
    StoredImage,
    UserStats,
    Vote,
)

T = TypeVar("T")
DEFAULT_WORKERS = 4  # threads (and connections) running the store's other calls
COUNTER_WORKERS = 2  # threads (and connections) counting updates for the flood limit
# Every reply shows the clusters' names, so they are read from the database at most this
# often; a rename made in this process shows at once, one made by another within this time.
NAMES_FRESH_FOR = 30.0  # seconds
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)  # said as "unavailable"


class Storage:
    """Every image and record the bot keeps; each method is a coroutine safe to await often."""

    def __init__(
        self,
        engine: Engine,
        workers: int = DEFAULT_WORKERS,
        *,
        counter: Engine,
        stored_bytes_cap: int | None = None,
        names_fresh_for: float = NAMES_FRESH_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="storage")
        # The flood limit counts every update: one statement each, on connections and threads
        # of its own, so that it never waits behind a photo being saved.
        self._counter = counter
        self._counter_executor = ThreadPoolExecutor(
            max_workers=COUNTER_WORKERS, thread_name_prefix="storage-counter"
        )
        self.url = safe_url(engine.url)
        self.stored_bytes_cap = stored_bytes_cap  # bytes of stored originals; None: no cap
        self._names_fresh_for = names_fresh_for
        self._clock = clock  # seconds, for the names' freshness (tests pass their own)
        self._names: tuple[float, dict[int, str]] | None = None

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(engine, *args)`` in a worker thread."""
        return await self._call(self._executor, self._engine, function, *args)

    async def _call(
        self,
        executor: ThreadPoolExecutor,
        engine: Engine,
        function: Callable[..., T],
        *args: object,
    ) -> T:
        """Run ``function(engine, *args)`` in a thread of ``executor``.

        A thread cannot be interrupted, so a cancelled caller waits for it before the
        cancellation goes on: once a cancelled call returns, the database has settled.
        """
        loop = asyncio.get_running_loop()
        call = functools.partial(function, engine, *args)
        future = loop.run_in_executor(executor, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise
        except UNAVAILABLE as exc:
            reason = first_line_of(exc)
            raise StorageUnavailableError(f"database {self.url} unavailable: {reason}") from exc

    async def migrate(self, *, in_child: bool = False) -> None:
        """Bring the schema to the newest revision (open_storage does it for you).

        `in_child`: a database behind is migrated by a child process (`bot.storage.migrate`),
        so that Alembic is never loaded here.
        """
        if not in_child:
            await self._run(upgrade)
        elif await self._run(schema_revision) != SCHEMA_HEAD:
            url = self._engine.url.render_as_string(hide_password=False)
            await asyncio.to_thread(migrate_in_child, url)

    async def save_image(self, image: IncomingImage) -> SaveResult:
        """Keep the image once per (chat, message); a repeat gets the first row's id."""
        return await self._run(images.save_photo, [image], self.stored_bytes_cap)

    async def save_photo(self, digits: Sequence[IncomingImage]) -> SaveResult:
        """Keep a photo's digits, a row each, once per (chat, message); the first digit's id.

        Its bytes are kept unless their sender has them stored already, or they would take
        the stored originals over `stored_bytes_cap`; the result says which.
        """
        return await self._run(images.save_photo, digits, self.stored_bytes_cap)

    async def photos_since(self, user_id: int, since: datetime) -> DailyUsage:
        """The user's photos since ``since`` and the bytes of their originals kept (quotas)."""
        _require_aware(since, "since")
        return await self._run(images.photos_since, user_id, since)

    async def mark_answered(self, image_id: int, reply_message_id: int | None = None) -> bool:
        """True for the one call that marks it; answer only then to answer exactly once.

        `reply_message_id` (the bot's reply) lets a number sent in reply to it find the photo.
        """
        return await self._run(images.mark_answered, image_id, _now(), reply_message_id)

    async def set_feedback(self, image_id: int, user_id: int, digit: int) -> bool:
        """False unless that image exists and belongs to that user."""
        return await self._run(images.set_feedback, image_id, user_id, digit, _now())

    async def set_photo_feedback(
        self, image_ids: Sequence[int], user_id: int, digits: Sequence[int]
    ) -> bool:
        """Each digit on its image, all or none; False unless they all belong to that user."""
        return await self._run(images.set_photo_feedback, image_ids, user_id, digits, _now())

    async def reply_digits(self, chat_id: int, reply_message_id: int) -> list[StoredImage]:
        """The digits, in order, of the photo the bot answered with that message."""
        return await self._run(images.reply_digits, chat_id, reply_message_id)

    async def get_image(self, image_id: int) -> StoredImage | None:
        """Every stored field of one image."""
        return await self._run(images.get_image, image_id)

    async def find_image(self, chat_id: int, message_id: int) -> StoredImage | None:
        """The image a Telegram message carried."""
        return await self._run(images.find_image, chat_id, message_id)

    async def forget_user(self, user_id: int) -> int:
        """Erase every image and record of the user (their last export's time too); returns
        the number of photos erased."""
        return await self._run(erasure.forget_user, user_id, self.stored_bytes_cap)

    async def exported_digits(self, user_id: int) -> list[ExportedDigit]:
        """Every digit the user sent, oldest first, without the photos' bytes (to plan /export)."""
        return await self._run(exports.exported_digits, user_id)

    async def export_originals(self, user_id: int, image_ids: Sequence[int]) -> dict[int, bytes]:
        """The photo's bytes of those of the user's rows, by id (b"" but in a photo's first
        digit's row); another user's ids find nothing."""
        return await self._run(exports.export_originals, user_id, image_ids)

    async def claim_export(self, user_id: int, now: datetime, every: timedelta) -> datetime | None:
        """None when the user may export now (recorded, for every process on this database),
        else the time from which they may again: ``every`` after their last export."""
        _require_aware(now, "now")
        return await self._run(exports.claim_export, user_id, now, every)

    async def release_export(self, user_id: int, claimed_at: datetime) -> None:
        """Give back the claim made at ``claimed_at``: that export was not delivered."""
        await self._run(exports.release_export, user_id, claimed_at)

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Delete images received before ``cutoff`` (retention); returns how many."""
        _require_aware(cutoff, "cutoff")
        return await self._run(erasure.purge_older_than, cutoff, self.stored_bytes_cap)

    async def recount_stored_bytes(self) -> int:
        """Count the stored originals' bytes again from the images; returns the count."""
        return await self._run(erasure.recount_stored_bytes, self.stored_bytes_cap)

    async def training_sample(
        self, limit: int, *, include_outliers: bool = True, seed: int | None = None
    ) -> np.ndarray:
        """At most ``limit`` of users' 28x28 digits, drawn uniformly from those stored and read
        in batches, as (n, 28, 28) uint8, without feedback or identities."""
        return await self._run(training.training_sample, limit, include_outliers, seed)

    async def votes(self, version: str) -> list[Vote]:
        """Users' answers to the digits model `version` assigned, per cluster, digit and user."""
        return await self._run(answers.votes, version)

    async def answered_digits(self, version: str, after_id: int, limit: int) -> AnsweredDigits:
        """A batch of answered digits that other models assigned, to assign them again."""
        return await self._run(answers.answered_digits, version, after_id, limit)

    async def count_update(self, user_id: int, period: float) -> FloodWindow:
        """Count one update of the user's in their window of ``period`` seconds (flood limit)."""
        return await self._call(
            self._counter_executor, self._counter, flood.count_update, user_id, _now(), period
        )

    async def drop_ended_windows(self) -> int:
        """Forget the flood windows that have ended; returns how many."""
        return await self._run(flood.drop_ended_windows, _now())

    async def set_cluster_name(self, cluster: int, name: str, set_by: int) -> None:
        """Name or rename a cluster (an admin's word for it)."""
        await self._run(serving.set_cluster_name, cluster, name, set_by, _now())
        self._names = None

    async def cluster_names(self) -> dict[int, str]:
        """Every named cluster, by id (read again once `names_fresh_for` seconds old)."""
        if self._names is None or self._clock() - self._names[0] >= self._names_fresh_for:
            read_at = self._clock()
            self._names = (read_at, await self._run(serving.get_cluster_names))
        return dict(self._names[1])

    async def record_model(self, version: str, metadata: dict) -> None:
        """Remember a model version served (its metadata maps clusters to digits)."""
        await self._run(serving.record_model, version, metadata, _now())

    async def set_active_model(self, version: str, path: str) -> None:
        """Point every bot process on this database at a new model file."""
        await self._run(serving.set_active_model, version, path, _now())

    async def active_model(self) -> tuple[str, str] | None:
        """(version, path) to serve, or None before any model was activated."""
        return await self._run(serving.get_active_model)

    async def promote_model(self, file: ModelFile, metadata: dict, path: str) -> None:
        """Store the file's bytes, record the version and make it active, all at once."""
        await self._run(serving.promote_model, file, metadata, path, _now())

    async def model_file(self, version: str) -> ModelFile | None:
        """The stored bytes of a promoted version (None if it has none: promoted before 0003)."""
        return await self._run(serving.model_file, version)

    async def model_file_sha256(self, version: str) -> str | None:
        """The stored digest of a version, without its bytes."""
        return await self._run(serving.model_file_sha256, version)

    async def claim_job(self, job: str, fire_time: datetime, owner: str) -> bool:
        """True for the one process (of all on this database) that runs this firing."""
        _require_aware(fire_time, "fire_time")
        return await self._run(jobs.claim_job, job, fire_time, owner, _now())

    async def previous_firing(self, job: str, before: datetime) -> datetime | None:
        """The latest claimed firing of ``job`` before ``before``."""
        _require_aware(before, "before")
        return await self._run(jobs.previous_firing, job, before)

    async def user_stats(self, user_id: int) -> UserStats:
        """The user's own counts."""
        return await self._run(stats.user_stats, user_id)

    async def global_stats(self, now: datetime) -> GlobalStats:
        """Totals, today's count, live accuracy and the last retraining, for admins."""
        _require_aware(now, "now")
        return await self._run(stats.global_stats, now)

    async def status_report(self, since: datetime) -> StatusReport:
        """What happened since ``since``, for the periodic push."""
        _require_aware(since, "since")
        return await self._run(stats.status_report, since)

    async def activity(self, now: datetime, days: int = 30) -> Activity:
        """Photos per cluster and day for the last ``days`` days, and the feedback matrix."""
        _require_aware(now, "now")
        return await self._run(count_activity, now, days)

    async def try_start_retrain(self, trigger: str, owner: str) -> int | None:
        """The run id, or None while another run is running (in any process)."""
        return await self._run(retrains.try_start_retrain, trigger, owner, _now())

    async def heartbeat_retrain(self, run_id: int) -> bool:
        """Keep the run from being declared stale; False if it already was, or ended."""
        return await self._run(retrains.heartbeat_retrain, run_id, _now())

    async def finish_retrain(
        self, run_id: int, outcome: str, detail: str, metrics: dict | None
    ) -> bool:
        """Close the run and release the lock; False if it was not running any more."""
        return await self._run(retrains.finish_retrain, run_id, outcome, detail, metrics, _now())

    async def fail_stale_retrains(self, older_than: timedelta) -> int:
        """Mark runs silent for ``older_than`` as failed (their process died); returns how many."""
        return await self._run(retrains.fail_stale_retrains, older_than, _now())

    async def last_retrain(self) -> RetrainRun | None:
        """The most recently started run."""
        return await self._run(retrains.last_retrain)

    async def close(self) -> None:
        """Wait for running queries, then close every connection."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._counter_executor.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        self._counter.dispose()
        self._engine.dispose()


async def open_storage(
    database_url: str,
    *,
    workers: int = DEFAULT_WORKERS,
    stored_bytes_cap: int | None = None,
    names_fresh_for: float = NAMES_FRESH_FOR,
    clock: Callable[[], float] = time.monotonic,
    migrate_in_child: bool = False,
) -> Storage:
    """Connect, migrate to head and return the store; closes it again if migrating fails.

    ``stored_bytes_cap`` bounds the bytes of the originals kept (None: no bound);
    ``migrate_in_child`` keeps Alembic out of this process (`Storage.migrate`).
    """
    storage = Storage(
        create_db_engine(database_url, pool_size=workers),
        workers=workers,
        counter=create_db_engine(database_url, pool_size=COUNTER_WORKERS, single_statements=True),
        stored_bytes_cap=stored_bytes_cap,
        names_fresh_for=names_fresh_for,
        clock=clock,
    )
    try:
        await storage.migrate(in_child=migrate_in_child)
    except BaseException:
        await storage.close()
        raise
    return storage


def _now() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime, name: str) -> None:
    """Refuse naive datetimes here, before they reach SQL wrapped in a StatementError."""
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
