"""Create the schema on first use and bring older databases up to the current version.

Every step is plain DDL written for the version it creates, never derived from the current table
definitions, so that a database of any older version is upgraded the same way. A fresh database
is created at the current version directly. Two processes opening one database at once are
serialised: PostgreSQL by an advisory lock, SQLite by taking its write lock (BEGIN IMMEDIATE)
before looking at the schema.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from .schema import SCHEMA_VERSION, metadata, schema_info

# Any constant will do, as long as it is the same in every process of every version.
ADVISORY_LOCK_KEY = 727274


def _v2_claim_indexes(conn: Connection) -> None:
    """Version 2: indexes for the claim look-ups every batch makes (a session's outstanding
    tasks, and the oldest expired claims), which scanned a dataset's claims before."""
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_claims_session "
            "ON claims (dataset_id, scope, session_id, claimed_at)"
        )
    )
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_claims_expiry ON claims (dataset_id, scope, claimed_at)"
        )
    )


def _v3_answer_keys(conn: Connection) -> None:
    """Version 3: the unique key of answers becomes (dataset, task hash, session), which also
    serves the dedup look-up by task hash, so that index goes; the input-hash index goes too
    and is built again only where a run deduplicates by input. Each index is upkeep on every
    answer saved."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE answers DROP CONSTRAINT uq_answer"))
        conn.execute(
            text(
                "ALTER TABLE answers ADD CONSTRAINT uq_answer "
                "UNIQUE (dataset_id, task_hash, session_id)"
            )
        )
        conn.execute(text("DROP INDEX IF EXISTS ix_answers_task"))
        conn.execute(text("DROP INDEX IF EXISTS ix_answers_input"))
        return
    # SQLite cannot change a table's constraints: copy the rows into the new table.
    conn.execute(
        text(
            "CREATE TABLE answers_v3 ("
            "id INTEGER NOT NULL, dataset_id INTEGER NOT NULL, "
            "session_id VARCHAR(200) NOT NULL, input_hash BIGINT NOT NULL, "
            "task_hash BIGINT NOT NULL, answer VARCHAR(16) NOT NULL, created FLOAT NOT NULL, "
            "content TEXT NOT NULL, PRIMARY KEY (id), "
            "CONSTRAINT uq_answer UNIQUE (dataset_id, task_hash, session_id), "
            "FOREIGN KEY(dataset_id) REFERENCES datasets (id) ON DELETE CASCADE)"
        )
    )
    columns = "id, dataset_id, session_id, input_hash, task_hash, answer, created, content"
    conn.execute(text(f"INSERT INTO answers_v3 ({columns}) SELECT {columns} FROM answers"))
    conn.execute(text("DROP TABLE answers"))
    conn.execute(text("ALTER TABLE answers_v3 RENAME TO answers"))


def _v4_no_claim_indexes(conn: Connection) -> None:
    """Version 4: the claim indexes of version 2 go. The look-ups they served now run once in a
    while (a reload, an expiry), over a table of served, unanswered tasks that the unique key's
    (dataset, scope) prefix already narrows, while their upkeep came with every claim and every
    release: two more pages written per commit."""
    conn.execute(text("DROP INDEX IF EXISTS ix_claims_session"))
    conn.execute(text("DROP INDEX IF EXISTS ix_claims_expiry"))


def _v5_route_tasks(conn: Connection) -> None:
    """Version 5: the pool of routed tasks (annotations_per_task, task_router): each task a
    team shares, with the sessions it is routed to and whether it has all its answers."""
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS route_tasks ("
            f"id {_id_type(conn)}, dataset_id {_ref_type(conn)} NOT NULL "
            "REFERENCES datasets (id) ON DELETE CASCADE, task_key BIGINT NOT NULL, "
            "sessions TEXT, complete INTEGER DEFAULT '0' NOT NULL, created FLOAT NOT NULL, "
            "content TEXT NOT NULL, CONSTRAINT uq_route_task UNIQUE (dataset_id, task_key))"
        )
    )
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_route_tasks_open "
            "ON route_tasks (dataset_id, complete, id)"
        )
    )


def _ref_type(conn: Connection) -> str:
    """The type of a column referring to an id: as wide as the id."""
    return "BIGINT" if conn.dialect.name == "postgresql" else "INTEGER"


def _id_type(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return "BIGSERIAL NOT NULL PRIMARY KEY"
    return "INTEGER NOT NULL PRIMARY KEY"


def _v6_forecasts(conn: Connection) -> None:
    """Version 6: the latest forecast of answers still needed, per dataset, for `rr stats`."""
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS forecasts ("
            f"dataset_id {_ref_type(conn)} NOT NULL PRIMARY KEY "
            "REFERENCES datasets (id) ON DELETE CASCADE, "
            "answers INTEGER NOT NULL, remaining INTEGER NOT NULL, low INTEGER NOT NULL, "
            "high INTEGER NOT NULL, updated FLOAT NOT NULL)"
        )
    )


# version -> the step that brings a database from version - 1 to it. Version 1 is the first schema.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_claim_indexes,
    3: _v3_answer_keys,
    4: _v4_no_claim_indexes,
    5: _v5_route_tasks,
    6: _v6_forecasts,
}


def current_version() -> int:
    return SCHEMA_VERSION


def schema_version(conn: Connection) -> int | None:
    """The version a database is at; None when it has no schema yet."""
    if not inspect(conn).has_table(schema_info.name):
        return None
    version = conn.execute(select(schema_info.c.version)).scalars().all()
    return max(version) if version else None


def migrate(engine: Engine) -> int:
    """Create the schema, or run the pending migrations, in one transaction; the version reached."""
    target = current_version()
    # Most opens find the schema current: check without taking any lock.
    with engine.connect() as conn:
        found = schema_version(conn)
    if found == target:
        return target
    _check_not_newer(found, target)
    with engine.connect() as conn:
        _lock(conn)
        try:
            version = schema_version(conn)  # again: another process may have just done it
            _check_not_newer(version, target)
            if version is None:
                metadata.create_all(conn, checkfirst=True)
                conn.execute(schema_info.delete())
                conn.execute(schema_info.insert().values(version=target))
            elif version < target:
                for step in range(version + 1, target + 1):
                    MIGRATIONS[step](conn)
                conn.execute(schema_info.delete())
                conn.execute(schema_info.insert().values(version=target))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return target


def _lock(conn: Connection) -> None:
    """Start a transaction that holds the schema lock until it ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # pysqlite would begin only at the first INSERT: DDL and the version check would run
        # outside the transaction, and two processes could both create the schema.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _check_not_newer(version: int | None, target: int) -> None:
    if version is not None and version > target:
        raise ConfigError(
            f"The database is at schema version {version}, newer than this recipe-runner "
            f"({target}). Upgrade recipe-runner."
        )
