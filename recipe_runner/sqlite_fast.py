"""The two SQLite statements of every batch (dedup look-up, answer insert), on the driver.

SQLAlchemy's work per statement (building, cache keys, result objects) costs several times what
SQLite needs to run these two, and they run once per batch: on this path the statements are
compiled from the same table definitions once and run on one DBAPI connection. Everything else in
`db.py` stays on SQLAlchemy Core.

The WAL is copied into the database file (checkpointed) by a thread of its own (Checkpointer).
"""

from __future__ import annotations

import contextlib
import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

# The columns of an answer row, in the order `db._answer_values` gives them.
ROW_KEYS = ("dataset_id", "session_id", "input_hash", "task_hash", "answer", "created", "content")
# Commits between two checkpoints: a batch of the web view commits twice, the claim some 2 pages
# and the answers some 14, so the WAL is copied every ~4,000 pages, well below the
# `wal_autocheckpoint` backstop of 10,000 (db.py).
CHECKPOINT_EVERY = 500


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
    """One DBAPI connection of the engine's pool, kept for the look-up and the insert."""

    def __init__(self, engine: Engine, insert: Any, checkpoint: bool = True) -> None:
        self._engine = engine
        self._conn: Any = None
        self._lock = threading.Lock()
        self._checkpointer = Checkpointer(engine) if checkpoint else None
        compiled = insert.compile(dialect=engine.dialect, column_keys=list(ROW_KEYS))
        self._insert_sql = str(compiled)
        order = [ROW_KEYS.index(key) for key in compiled.positiontup or ()]
        # A row tuple in ROW_KEYS order -> its parameters in the statement's order (the same
        # order, with the table defined as it is: then the rows go as they are).
        self._params = None if order == list(range(len(ROW_KEYS))) else operator.itemgetter(*order)

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
        """The hashes among `hashes` with an answer in one of the datasets (of `session`)."""
        column = "task_hash" if by == "task" else "input_hash"
        sql = (
            f"SELECT {column} FROM answers WHERE dataset_id IN ({_marks(len(dataset_ids))}) "
            f"AND {column} IN ({_marks(len(hashes))})"
        )
        params: list[Any] = [*dataset_ids, *hashes]
        if session is not None:
            sql += " AND session_id = ?"
            params.append(session)
        with self._lock:
            cursor = self._connection().cursor()
            try:
                cursor.execute(sql, params)
                return {row[0] for row in cursor.fetchall()}
            finally:
                cursor.close()

    def scalar(self, sql: str, params: Sequence[Any]) -> Any:
        """The first column of the first row of a query (None when there is none)."""
        with self._lock:
            cursor = self._connection().cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
                return None if row is None else row[0]
            finally:
                cursor.close()

    def insert(
        self, rows: list[tuple[Any, ...]], then: tuple[str, tuple[Any, ...]] | None = None
    ) -> list[bool]:
        """Insert answer rows (tuples of ROW_KEYS' values) in one transaction, skipping
        conflicts; which rows were new. `then` (SQL and its parameters) runs in the same
        transaction: the release of the answered tasks' claims, which saves a commit per batch.
        Committed before it returns."""
        params = rows if self._params is None else list(map(self._params, rows))
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            try:
                new = [True] * len(params)
                if params:
                    cursor.executemany(self._insert_sql, params)
                    if cursor.rowcount != len(params):
                        # Some were stored before: insert them one by one to learn which.
                        conn.rollback()
                        new = []
                        for one in params:
                            cursor.execute(self._insert_sql, one)
                            new.append(cursor.rowcount == 1)
                if then is not None:
                    cursor.execute(*then)
                conn.commit()
                self._committed()
                return new
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()

    def insert_all_or_ask(
        self,
        sql: str,
        params: Sequence[Any],
        expected: int,
        ask: Callable[[], tuple[str, Sequence[Any]]],
    ) -> list[Any] | None:
        """Run one INSERT and commit; None when it inserted `expected` rows, else the first
        column of the rows of the query that `ask()` gives (SQL and parameters), run in the
        same transaction. Cheaper than a RETURNING clause, which SQLite answers through a temporary
        table, for the common case where every row goes in."""
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

    def write(self, sql: str, params: list[tuple[Any, ...]], expect: int | None = None) -> bool:
        """Run `sql` once per tuple of `params` in one transaction and commit; with `expect`,
        roll back instead (and return False) unless exactly that many rows changed."""
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            try:
                cursor.executemany(sql, params)
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


def _marks(n: int) -> str:
    return ",".join("?" * n)
