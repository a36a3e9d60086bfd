"""Create the schema on first use and bring older databases up to the current version."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, insert, inspect, select, text, update
from sqlalchemy.engine import Engine

from .errors import ConfigError

# version -> the step that brings a database from version - 1 to it. Version 1 is the first schema.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def current_version() -> int:
    from .db import SCHEMA_VERSION

    return SCHEMA_VERSION


def migrate(engine: Engine) -> int:
    """Create missing tables and run pending migrations in one transaction; the version reached."""
    from . import claims  # noqa: F401  (registers the claims table on the metadata)
    from .db import metadata, schema_info

    target = current_version()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two servers starting at once must not both create the schema.
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        has_schema = inspect(conn).has_table(schema_info.name)
        metadata.create_all(conn, checkfirst=True)
        version = conn.execute(select(schema_info.c.version)).scalar() if has_schema else None
        if version is None:
            conn.execute(insert(schema_info).values(version=target))
            return target
        if version > target:
            raise ConfigError(
                f"The database is at schema version {version}, newer than this recipe-runner "
                f"({target}). Upgrade recipe-runner."
            )
        for step in range(version + 1, target + 1):
            MIGRATIONS[step](conn)
        if version != target:
            conn.execute(update(schema_info).values(version=target))
    return target
