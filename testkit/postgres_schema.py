"""A fresh PostgreSQL schema on a shared server, for a test or a benchmark run of its own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from sqlalchemy.engine import URL, make_url


def libpq(url: str | URL) -> str:
    """The SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def schema_url(url: str, schema: str) -> str:
    """`url` with its search_path set to `schema`."""
    return f"{url}?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A new schema's name, randomly chosen so that runs of several engineers on one server
    never meet; the schema is dropped on the way out."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq(server_url), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(libpq(server_url), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
