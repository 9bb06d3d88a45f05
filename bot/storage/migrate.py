"""Migrating a database to the newest schema in a process of its own.

Alembic, with Mako and Pygments, is needed once per schema change but would stay in the
bot's memory for as long as it runs: the bot starts `python -m bot.storage.migrate` instead,
with the database's URL in its environment (never on its command line, where `ps` shows it).
"""

from __future__ import annotations

import os
import subprocess
import sys

from bot.storage.engine import create_db_engine, first_line_of, safe_url, upgrade
from bot.storage.records import StorageError

URL_VARIABLE = "DATABASE_URL"
MIGRATION_TIMEOUT_S = 600  # a migration rewriting a large table takes a while; a hung one ends


def migrate_in_child(url: str) -> None:
    """Bring the database at `url` to the newest revision in a child process; blocks.

    Raises StorageError with the child's own one-line reason when it fails.
    """
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter and module, no user input
            [sys.executable, "-m", __name__],
            env={**os.environ, URL_VARIABLE: url},
            capture_output=True,
            text=True,
            timeout=MIGRATION_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StorageError(
            f"migrating database {safe_url(url)} took over {MIGRATION_TIMEOUT_S} s"
        ) from exc
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        reason = said[-1] if said else f"exit status {done.returncode}"
        raise StorageError(f"cannot migrate database {safe_url(url)}: {reason}")


def main() -> int:
    """Migrate the database named by DATABASE_URL; on failure, one line on stderr."""
    engine = create_db_engine(os.environ[URL_VARIABLE], pool_size=1)
    try:
        upgrade(engine)
    except Exception as exc:  # the parent shows this line, whatever failed
        print(f"{type(exc).__name__}: {first_line_of(exc)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
