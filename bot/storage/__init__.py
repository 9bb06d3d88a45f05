"""Every image the bot receives, and what it needs to run, in SQLite or PostgreSQL.

``storage = await open_storage(url)`` migrates the database to head and returns a
``Storage`` whose methods are all coroutines (sync SQLAlchemy in a bounded thread pool).
``DEFAULT_DATABASE_URL`` is ``sqlite:///data/bot.sqlite3`` (relative to the working
directory), created owner-only on first run; deployments use
``postgresql+psycopg://user:pass@host/db``. Several processes may share one database: the
migration at start, the retraining lock, the active model with its file's bytes and the
claims of scheduled job firings are all held by the database.

Guarantees worth knowing:

- A cancelled call returns (raising CancelledError) only after its worker thread is done,
  so what the caller reads next is settled.
- ``forget_user`` and ``purge_older_than`` leave no erased bytes in SQLite's files
  (secure_delete plus a WAL checkpoint); on PostgreSQL, vacuum reclaims them later.

Refinements of the contract in docs/ARCHITECTURE.md:

- ``mark_answered`` returns True only for the call that marked the image, so two racing
  deliveries of one message can agree on who answers.
- ``heartbeat_retrain`` and ``finish_retrain`` return False when the run was no longer
  running (e.g. declared stale by ``fail_stale_retrains``).
- ``get_image`` / ``find_image`` read every stored field back (``StoredImage``).
- A photo of several digits is a row per digit (``save_photo``): same chat and message, its
  index, box and 28x28, the photo's bytes only in the first digit's row; ``find_image`` gives
  that first digit, ``reply_digits`` them all by the bot's reply, and ``forget_user``
  returns the number of photos it erased.
- A stored digit's 28x28, cluster, box and the like are its ``RecognisedDigit`` (``digit``),
  the record recognition made.
- ``/export`` reads a user's rows twice: ``exported_digits`` (every field but the photos'
  bytes) and ``export_originals`` (by id, a batch at a time, only that user's);
  ``claim_export`` records an export or says when the next may be, atomically across
  processes.
- A photo whose bytes its sender had sent before is saved as ``repeated``, without them: the
  original is kept once (``SaveResult.original`` says so), and not at all when it would take
  the stored originals over ``stored_bytes_cap``. The first save to reach 80% of the cap, and
  the first refused, carry a ``StorageAlert`` to push. Retention hands a first photo's bytes
  to the newest repeat that stays.
- ``training_sample(limit, include_outliers=False)`` reads the digits in batches and draws at
  most ``limit`` uniformly, leaving out repeats (and images far from every cluster).
- ``votes(version)`` counts users' answers per cluster, digit and user for the digits that
  model assigned; ``answered_digits`` reads the others in batches, to be assigned again.
- Stats carry ``Accuracy(feedback, matching)`` whose ``share`` is None without feedback;
  ``StatusReport`` also lists the retraining runs of the period.
- ``count_update`` counts a user's update for the flood limit in one autocommitted upsert,
  on connections of its own (no ping); ``forget_user`` erases that count too.
- The database being unreachable raises ``StorageUnavailableError``; naive datetimes are
  refused with ``ValueError``.
"""

from bot.storage.engine import DEFAULT_DATABASE_URL
from bot.storage.records import (
    Accuracy,
    AnsweredDigits,
    DailyUsage,
    ExportedDigit,
    FloodWindow,
    GlobalStats,
    IncomingImage,
    ModelFile,
    Original,
    RetrainRun,
    SaveResult,
    StatusReport,
    StorageAlert,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
    StoredImage,
    UserStats,
    Vote,
)
from bot.storage.store import Storage, open_storage

__all__ = [
    "DEFAULT_DATABASE_URL",
    "Accuracy",
    "AnsweredDigits",
    "DailyUsage",
    "ExportedDigit",
    "FloodWindow",
    "GlobalStats",
    "IncomingImage",
    "ModelFile",
    "Original",
    "RetrainRun",
    "SaveResult",
    "StatusReport",
    "Storage",
    "StorageAlert",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "StoredImage",
    "UserStats",
    "Vote",
    "open_storage",
]
