"""What the bot serves: cluster names, the model versions it has used, the active model and
the promoted model files themselves (so replicas on other machines can serve them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select

from bot.storage.engine import upsert_insert
from bot.storage.records import ModelFile
from bot.storage.schema import active_model, cluster_names, model_files, model_versions

NAME_MAX = 64  # characters of a cluster's name, once trimmed
ACTIVE_ROW = 1  # the id of the one row naming the active model
KEEP_MODEL_FILES = 3  # promoted files kept in the database, the active one included


def set_cluster_name(engine: Engine, cluster: int, name: str, set_by: int, now: datetime) -> None:
    """Name (or rename) a cluster; the name is trimmed and must fit in 64 characters."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"a cluster name needs 1 to {NAME_MAX} characters")
    if cluster < 0:
        raise ValueError(f"cluster ids are not negative, got {cluster}")
    values = {"cluster": cluster, "name": name, "set_by": set_by, "set_at": now}
    statement = upsert_insert(engine, cluster_names).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["cluster"],
        set_={"name": name, "set_by": set_by, "set_at": now},
    )
    with engine.begin() as connection:
        connection.execute(statement)


def get_cluster_names(engine: Engine) -> dict[int, str]:
    """Every named cluster, by id."""
    with engine.connect() as connection:
        rows = connection.execute(select(cluster_names.c.cluster, cluster_names.c.name)).all()
    return {row.cluster: row.name for row in rows}


def record_model(engine: Engine, version: str, model_metadata: dict, now: datetime) -> None:
    """Remember a model version the first time it serves; later calls keep the first record."""
    statement = (
        upsert_insert(engine, model_versions)
        .values(version=version, metadata=model_metadata, first_served_at=now)
        .on_conflict_do_nothing(index_elements=["version"])
    )
    with engine.begin() as connection:
        connection.execute(statement)


def model_metadata(engine: Engine, versions: set[str]) -> dict[str, dict]:
    """The recorded metadata of the given versions (unknown ones are left out)."""
    query = select(model_versions.c.version, model_versions.c.metadata).where(
        model_versions.c.version.in_(versions)
    )
    with engine.connect() as connection:
        return {row.version: row.metadata for row in connection.execute(query)}


def set_active_model(engine: Engine, version: str, path: str, now: datetime) -> None:
    """Point every bot process at a new model file."""
    with engine.begin() as connection:
        _set_active(engine, connection, version, path, now)


def promote_model(
    engine: Engine, file: ModelFile, model_metadata: dict, path: str, now: datetime
) -> None:
    """Store a promoted model's bytes, record it and make it the active one, in one transaction.

    Older files beyond the newest ``KEEP_MODEL_FILES`` are deleted (one comes with each
    accepted retraining).
    """
    stored = (
        upsert_insert(engine, model_files)
        .values(
            version=file.version,
            sha256=file.sha256,
            size_bytes=len(file.data),
            stored_at=now,
            data=file.data,
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
    recorded = (
        upsert_insert(engine, model_versions)
        .values(version=file.version, metadata=model_metadata, first_served_at=now)
        .on_conflict_do_nothing(index_elements=["version"])
    )
    newest = (
        select(model_files.c.version)
        .order_by(model_files.c.stored_at.desc(), model_files.c.version.desc())
        .limit(KEEP_MODEL_FILES)
    )
    with engine.begin() as connection:
        connection.execute(stored)
        connection.execute(recorded)
        _set_active(engine, connection, file.version, path, now)
        connection.execute(
            delete(model_files).where(
                model_files.c.version.not_in(newest.scalar_subquery()),
                model_files.c.version != file.version,
            )
        )


def model_file(engine: Engine, version: str) -> ModelFile | None:
    """The stored bytes of a promoted version, or None when the database has no file for it."""
    query = select(model_files.c.version, model_files.c.sha256, model_files.c.data).where(
        model_files.c.version == version
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else ModelFile(row.version, row.sha256, bytes(row.data))


def model_file_sha256(engine: Engine, version: str) -> str | None:
    """The SHA-256 of a stored version, read without its bytes (to check a local copy)."""
    query = select(model_files.c.sha256).where(model_files.c.version == version)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def _set_active(
    engine: Engine, connection: Connection, version: str, path: str, now: datetime
) -> None:
    values = {"version": version, "path": path, "set_at": now}
    connection.execute(
        upsert_insert(engine, active_model)
        .values(id=ACTIVE_ROW, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


def get_active_model(engine: Engine) -> tuple[str, str] | None:
    """(version, path) of the model every process should serve, or None before the first."""
    query = select(active_model.c.version, active_model.c.path).where(
        active_model.c.id == ACTIVE_ROW
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else (row.version, row.path)
