"""Building the SQLAlchemy engine for a database URL and migrating it to head with Alembic.

SQLite gets WAL, foreign keys and secure deletion on every connection, and its file is
created owner-only; PostgreSQL gets a connect timeout so a down server fails fast. Alembic
(with Mako and Pygments, some 11 MB of the bot's memory for good) is imported only when the
database is not at the newest revision already, as it is on every start but the first after
an upgrade.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url

from bot.storage.records import StorageConfigError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DATABASE_URL = "sqlite:///data/bot.sqlite3"  # relative to the working directory
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"  # Alembic's scripts
SCHEMA_HEAD = "0007"  # the newest migration's revision: a new migration moves it
CONNECT_TIMEOUT_S = 5  # seconds to reach PostgreSQL before the database counts as unavailable
SQLITE_BUSY_TIMEOUT_S = 15  # seconds a SQLite writer waits for another's lock
POOL_TIMEOUT_S = 10  # seconds a call waits for a free connection of the pool
_ALEMBIC_IN_USE = threading.Lock()  # Alembic's configuration is global: one migration at a time


def safe_url(url: str | URL) -> str:
    """The URL without its password, fit for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def first_line_of(exc: BaseException) -> str:
    """The first line of a database error in the driver's own words (SQLAlchemy wraps it)."""
    said = str(getattr(exc, "orig", None) or exc).splitlines()
    return said[0] if said else ""


def create_db_engine(url: str | URL, pool_size: int, *, single_statements: bool = False) -> Engine:
    """An engine whose pool holds at most ``pool_size`` connections (one per worker thread).

    With ``single_statements`` every statement commits on its own and PostgreSQL connections
    are not pinged when they leave the pool, so a one-statement call costs one round trip (a
    transaction costs four: ping, BEGIN, the statement, COMMIT). A connection the server
    dropped then fails its first statement, and the pool is refilled.
    """
    url = _with_driver(make_url(url))
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_S,
    }
    if single_statements:
        options["isolation_level"] = "AUTOCOMMIT"
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    if url.get_backend_name() == "postgresql":
        # A server restart drops pooled connections: test each one as it leaves the pool (a
        # SQLite file cannot drop a connection, so it skips the extra round trip).
        options["pool_pre_ping"] = not single_statements
        # Keepalives turn a server that vanished mid-query into an error within a minute.
        options["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        return create_engine(url, **options)
    raise StorageConfigError(
        f"unsupported database {safe_url(url)}: use sqlite:/// or postgresql+psycopg://"
    )


def _with_driver(url: URL) -> URL:
    """postgres:// and postgresql:// (as hosting platforms hand them out) mean psycopg 3."""
    if url.drivername in {"postgres", "postgresql"}:
        return url.set(drivername="postgresql+psycopg")
    return url


def _prepare_sqlite_file(url: URL) -> None:
    """Create the database file owner-only (0600) and its directory 0700 when we make it."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StorageConfigError("SQLite needs a file path, e.g. sqlite:///data/bot.sqlite3")
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; secure_delete overwrites erased images."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def alembic_config(engine: Engine) -> Config:
    """An Alembic config built in code, so migrations run from an installed package too."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (head by default); a no-op when it is there.

    Alembic keeps its running context in module globals, so one migration at a time per
    process; env.py serialises processes with a database lock.
    """
    if revision == "head" and schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    with _ALEMBIC_IN_USE:
        command.upgrade(alembic_config(engine), revision)


def schema_revision(engine: Engine) -> str | None:
    """The revision the database was migrated to, as Alembic recorded it; None before any."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upsert_insert(engine: Engine, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    return dialect_insert(engine.dialect.name, table)


def dialect_insert(dialect: str, table: Table) -> Any:
    """`upsert_insert` by the dialect's name, for statements built once per dialect."""
    if dialect == "sqlite":
        return sqlite_insert(table)
    return postgresql_insert(table)
