"""SQLite's driver: the statements of every batch on one DBAPI connection, and the engine's set-up.

SQLAlchemy's work per statement (building, cache keys, result objects) costs several times what
SQLite needs to run the few statements of a batch (dedup look-up, claim, answer insert, release):
here they are written once as SQL and run on one connection of the engine's pool. Everything
less common stays on SQLAlchemy Core (`database.py`, `claims.py`).

The WAL is copied into the database file (checkpointed) by a thread of its own (Checkpointer).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from ..errors import ConfigError
from .driver import Keyed, Release, first_free
from .schema import ROW_KEYS, AnsweredIn

# Commits between two checkpoints: a batch of the web view commits twice, the claim some 2 pages
# and the answers some 14, so the WAL is copied every ~4,000 pages, well below the
# `wal_autocheckpoint` backstop of 10,000 (see `sqlite_engine`).
CHECKPOINT_EVERY = 500
# The claims' statements need RETURNING and INSERT ... SELECT ... ON CONFLICT (SQLite 3.35, 2021).
NEEDED_VERSION = (3, 35)
_INSERT_ANSWER = (
    f"INSERT INTO answers ({', '.join(ROW_KEYS)}) VALUES ({', '.join('?' * len(ROW_KEYS))}) "
    "ON CONFLICT DO NOTHING"
)


def sqlite_engine(url: str, settings: dict[str, Any], timeout: float) -> Engine:
    """An engine on a SQLite file in WAL mode, with `db_settings.synchronous` (NORMAL by
    default) and a busy timeout of `timeout` seconds."""
    synchronous = str(settings.get("synchronous", "NORMAL")).upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ConfigError(
            f"db_settings.synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}."
        )
    if sqlite3.sqlite_version_info < NEEDED_VERSION:
        raise ConfigError(
            f"SQLite {sqlite3.sqlite_version} is too old: recipe-runner needs 3.35 or newer "
            "(a newer Python, or PostgreSQL with db: postgresql)."
        )
    engine = create_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        _enable_wal(cursor, timeout)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        # The backstop of Checkpointer, which checkpoints from a thread of its own: every
        # ~40 MB of WAL instead of every 4 MB, so that the index pages a run of small commits
        # touches over and over are copied into the database file once, not hundreds of times.
        # Nearly doubles the answers saved per second; durability is the same.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    return engine


def _enable_wal(cursor: Any, timeout: float) -> None:
    """Switch the file to WAL (it stays so). Processes opening a new file at once can find it
    locked without SQLite waiting for them: try again for a bounded time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Checkpointer:
    """Checkpoints the WAL from a thread of its own, every CHECKPOINT_EVERY commits.

    Left to SQLite, the commit that takes the WAL over `wal_autocheckpoint` pages copies it into
    the database file and waits for the disk (fsync) before it returns: under load in the web
    view, a 30-40 ms stall of the server's event loop every few seconds, shared by every request
    waiting behind it. A PASSIVE checkpoint waits for no reader or writer, and SQLite drops the
    GIL while it runs. `wal_autocheckpoint` stays as the backstop (for commits of many pages,
    as in headless runs). Durability is unchanged: a commit is in the WAL before it returns."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._commits = 0

    def committed(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._closed:
            return
        self._commits = 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rr-checkpoint", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        try:
            conn = self._engine.raw_connection()
        except Exception:  # the backstop checkpoints instead
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                cursor = conn.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
                cursor.close()
        except Exception:  # e.g. the file went away; the backstop checkpoints instead
            pass
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class FastSQLite:
    """SQLite's driver (see driver.Driver): one DBAPI connection of the engine's pool."""

    def __init__(self, engine: Engine, checkpoint: bool = True) -> None:
        self._engine = engine
        self._conn: Any = None
        self._lock = threading.Lock()
        self._checkpointer = Checkpointer(engine) if checkpoint else None
        self._claim_new_sql: dict[tuple[Any, ...], str] = {}

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._engine.raw_connection()
        return self._conn

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            if self._conn is not None:
                self._conn.close()  # back to the pool, which the engine then disposes
                self._conn = None

    def answered(
        self, dataset_ids: Sequence[int], hashes: Sequence[int], by: str, session: str | None
    ) -> set[int]:
        column = "task_hash" if by == "task" else "input_hash"
        sql = (
            f"SELECT {column} FROM answers WHERE dataset_id IN ({_marks(len(dataset_ids))}) "
            f"AND {column} IN ({_marks(len(hashes))})"
        )
        params: list[Any] = [*dataset_ids, *hashes]
        if session is not None:
            sql += " AND session_id = ?"
            params.append(session)
        return {row[0] for row in self._read(sql, params)}

    def claim_first(
        self,
        dataset_id: int,
        scope: str,
        session: str,
        keyed: Sequence[Keyed],
        by: str,
        answered: Sequence[AnsweredIn],
        limit: int,
    ) -> tuple[list[int], int]:
        # Two statements: a look-up here costs no round trip, and the claim checks again.
        taken = self._taken(dataset_id, scope, [key for key, _ in keyed], by, answered)
        picked, looked = first_free(keyed, taken, limit)
        won = self.claim_new(dataset_id, scope, session, picked, by, answered)
        return ([key for key, _ in picked] if won is None else won), looked

    def _taken(
        self,
        dataset_id: int,
        scope: str,
        keys: Sequence[int],
        by: str,
        answered: Sequence[AnsweredIn],
    ) -> set[int]:
        """The keys held by a claim in the scope or with an answer in `answered`."""
        column = "task_hash" if by == "task" else "input_hash"
        marks = _marks(len(keys))
        parts = [
            "SELECT task_hash FROM claims WHERE dataset_id = ? AND scope = ? "
            f"AND task_hash IN ({marks})"
        ]
        params: list[Any] = [dataset_id, scope, *keys]
        for where in answered:
            if where.dataset_ids:
                parts.append(
                    f"SELECT {column} FROM answers WHERE dataset_id IN "
                    f"({_marks(len(where.dataset_ids))}) AND {column} IN ({marks})"
                    + ("" if where.session is None else " AND session_id = ?")
                )
                params += [*where.dataset_ids, *keys]
                if where.session is not None:
                    params.append(where.session)
        return {row[0] for row in self._read(" UNION ALL ".join(parts), params)}

    def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one read on the driver's connection."""
        with self._lock:
            cursor = self._connection().cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()

    def write_mark(self) -> int | None:
        # Changes when another connection (of any process) commits; a few microseconds.
        return int(self._read("PRAGMA data_version", ())[0][0])

    def count_claims(self, dataset_id: int, scope: str, session: str | None) -> int:
        # Asked on every request once the stream is read to its end.
        sql = "SELECT count(*) FROM claims WHERE dataset_id = ? AND scope = ?"
        params: tuple[Any, ...] = (dataset_id, scope)
        if session is not None:
            sql += " AND session_id = ?"
            params = (dataset_id, scope, session)
        return int(self._read(sql, params)[0][0])

    def save(
        self, rows: list[tuple[Any, ...]], release: Release | None = None
    ) -> list[tuple[str, str]]:
        """Insert answer rows in one transaction, skipping conflicts, then the release of the
        answered tasks' claims in the same transaction (which saves a commit per batch)."""
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            try:
                new = [True] * len(rows)
                if rows:
                    cursor.executemany(_INSERT_ANSWER, rows)
                    if cursor.rowcount != len(rows):
                        # Some were stored before: insert them one by one to learn which.
                        conn.rollback()
                        new = []
                        for one in rows:
                            cursor.execute(_INSERT_ANSWER, one)
                            new.append(cursor.rowcount == 1)
                if release is not None and release[2]:
                    cursor.execute(*_release(*release))
                conn.commit()
                self._committed()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()
        return [(row[1], row[4]) for row, added in zip(rows, new, strict=True) if added]

    def release(self, dataset_id: int, scope: str, keys: Sequence[int]) -> None:
        if keys:
            self._write(*_release(dataset_id, scope, keys))

    def claim_new(
        self,
        dataset_id: int,
        scope: str,
        session: str,
        keyed: Sequence[Keyed],
        by: str,
        answered: Sequence[AnsweredIn],
    ) -> list[int] | None:
        """One statement claims the tasks and skips the answered ones, which is also what
        makes it safe with several processes: SQLite runs a write on the newest data, so an
        answer saved (and its claim released) by another process is either seen here or saved
        after this claim, which it then conflicts with. A task held by another session is
        skipped: its holder answers it, or it is taken over once expired."""
        if not keyed:
            return []
        now = time.time()
        column = "task_hash" if by == "task" else "input_hash"
        shape = (len(keyed), column, *((len(a.dataset_ids), a.session is None) for a in answered))
        sql = self._claim_new_sql.get(shape)
        if sql is None:
            sql = self._claim_new_sql[shape] = _claim_new_sql(len(keyed), column, answered)
        params: list[Any] = [dataset_id, scope, session, now]
        for key, content in keyed:
            params += (key, content)
        for where in answered:
            if where.dataset_ids:
                params += where.dataset_ids
                if where.session is not None:
                    params.append(where.session)

        def claimed_now() -> tuple[str, tuple[Any, ...]]:
            """Which rows went in, when not all did: this session's claims made just now."""
            keys = [key for key, _ in keyed]
            return (
                "SELECT task_hash FROM claims WHERE dataset_id = ? AND scope = ? "
                f"AND session_id = ? AND claimed_at = ? AND task_hash IN ({_marks(len(keys))})",
                (dataset_id, scope, session, now, *keys),
            )

        return self._insert_all_or_ask(sql, params, len(keyed), claimed_now)

    def _insert_all_or_ask(
        self,
        sql: str,
        params: Sequence[Any],
        expected: int,
        ask: Callable[[], tuple[str, Sequence[Any]]],
    ) -> list[Any] | None:
        """Run one INSERT and commit; None when it inserted `expected` rows, else the first
        column of the rows of the query that `ask()` gives (SQL and parameters), run in the
        same transaction. Cheaper than a RETURNING clause, which SQLite answers through a
        temporary table, for the common case where every row goes in."""
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                found = None
                if cursor.rowcount != expected:
                    cursor.execute(*ask())
                    found = [row[0] for row in cursor.fetchall()]
                conn.commit()
                self._committed()
                return found
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()

    def _write(self, sql: str, params: Any, expect: int | None = None) -> bool:
        """Run `sql` (once per tuple when `params` is a list) in one transaction and commit;
        with `expect`, roll back instead (and return False) unless that many rows changed."""
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            try:
                if isinstance(params, list):
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
                if expect is not None and cursor.rowcount != expect:
                    conn.rollback()
                    return False
                conn.commit()
                self._committed()
                return True
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()


def _release(dataset_id: int, scope: str, keys: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
    """The one statement that forgets claims (after their answers are saved, or found)."""
    return (
        "DELETE FROM claims WHERE dataset_id = ? AND scope = ? "
        f"AND task_hash IN ({_marks(len(keys))})",
        (dataset_id, scope, *keys),
    )


def _claim_new_sql(n: int, column: str, answered: Sequence[AnsweredIn]) -> str:
    """The statement of FastSQLite.claim_new for `n` tasks. The parameters, in order: dataset
    id, scope, session, time; (key, content) per task; the ids and session of each `answered`
    with dataset ids."""
    unanswered = [
        "NOT EXISTS (SELECT 1 FROM answers AS a WHERE a.dataset_id IN "
        f"({_marks(len(where.dataset_ids))}) AND a.{column} = v.column1"
        + ("" if where.session is None else " AND a.session_id = ?")
        + ")"
        for where in answered
        if where.dataset_ids
    ]
    # SQLite needs a WHERE clause before ON CONFLICT in an INSERT ... SELECT.
    condition = " AND ".join(unanswered) or "1"
    return (
        "INSERT INTO claims (dataset_id, scope, task_hash, session_id, claimed_at, content) "
        "SELECT ?, ?, v.column1, ?, ?, v.column2 "
        f"FROM (VALUES {','.join(['(?,?)'] * n)}) AS v WHERE {condition} "
        "ON CONFLICT DO NOTHING"
    )


def _marks(n: int) -> str:
    return ",".join("?" * n)
