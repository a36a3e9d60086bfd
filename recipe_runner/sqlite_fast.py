"""The two SQLite statements of every batch (dedup look-up, answer insert), on the driver.

SQLAlchemy's work per statement (building, cache keys, result objects) costs several times what
SQLite needs to run these two, and they run once per batch: on this path the statements are
compiled from the same table definitions once and run on one DBAPI connection. Everything else in
`db.py` stays on SQLAlchemy Core.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

# The columns of an answer row, as `db._answer_row` builds them.
ROW_KEYS = ("dataset_id", "session_id", "input_hash", "task_hash", "answer", "created", "content")


class FastSQLite:
    """One DBAPI connection of the engine's pool, kept for the look-up and the insert."""

    def __init__(self, engine: Engine, insert: Any) -> None:
        self._engine = engine
        self._conn: Any = None
        self._lock = threading.Lock()
        compiled = insert.compile(dialect=engine.dialect, column_keys=list(ROW_KEYS))
        self._insert_sql = str(compiled)
        self._order = list(compiled.positiontup or ())
        self._params = operator.itemgetter(*self._order)  # a row dict -> its tuple, in C

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._engine.raw_connection()
        return self._conn

    def close(self) -> None:
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

    def insert(
        self, rows: list[dict[str, Any]], then: tuple[str, tuple[Any, ...]] | None = None
    ) -> list[bool]:
        """Insert answer rows (dicts of ROW_KEYS) in one transaction, skipping conflicts;
        which rows were new. `then` (SQL and its parameters) runs in the same transaction: the
        release of the answered tasks' claims, which saves a commit per batch. Committed before
        it returns."""
        params = list(map(self._params, rows))
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
                return new
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
                return True
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()


def _marks(n: int) -> str:
    return ",".join("?" * n)
