"""PostgreSQL's driver: the statements of every batch on one psycopg connection: each a round trip.

Where the time went on this path was round trips, not work: through SQLAlchemy a batch took a
BEGIN, the dedup look-up, the claim, a second look-up, the COMMIT, then BEGIN, the insert, the
release and a COMMIT again, each a round trip to the server and a wake-up of a backend. Here:
- every statement runs in autocommit, so a statement is its own transaction (no BEGIN/COMMIT);
- answers and the release of their claims are one statement (a data-modifying CTE): one
  round trip, one transaction, never a release without its answers;
- a batch's claim skips the answered tasks in the same statement, and the look-up that guards
  against an answer committed meanwhile is sent with it in one pipeline: one round trip;
- rows go as arrays (`unnest`), in binary, so each statement's text is the same whatever the
  batch size and psycopg prepares it once per connection (server-side plans, no parse per
  batch).

A prepared statement's plan is made once, early, when the tables are small and, on a database
never analyzed, without statistics: then `dataset_id = ANY(ids) AND task_hash = ANY(keys)` was
planned as a scan of the dataset's rows with the keys as a filter (or a scan of the table),
kept for the life of the connection while the table grew: the cost of every batch grew with the
answers stored, and was most of PostgreSQL's CPU. So each statement looks up its keys one at a
time, in a subquery the planner cannot turn into a join (a LATERAL with LIMIT, an EXISTS with
OFFSET 0): every look-up is the unique index's full key, whatever the statistics; and sequential
scans are off on this connection, whose statements all touch a few rows by key.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from .driver import Keyed, Release
from .schema import AnsweredIn

_SAVE = (
    "INSERT INTO answers (dataset_id, session_id, input_hash, task_hash, answer, created, content) "
    "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::bigint[], %b::text[], "
    "%b::float8[], %b::text[]) ON CONFLICT DO NOTHING RETURNING session_id, answer"
)
# The rows to delete are found key by key; deleted by id, which a concurrent take-over of the
# claim (an UPDATE) keeps, so that the claim is released still.
_RELEASE = (
    "DELETE FROM claims WHERE id = ANY(ARRAY(SELECT (SELECT c.id FROM claims AS c "
    "WHERE c.dataset_id = %s AND c.scope = %s AND c.task_hash = k.key) "
    "FROM unnest(%b::bigint[]) AS k(key)))"
)
_SAVE_AND_RELEASE = f"WITH released AS ({_RELEASE}) {_SAVE}"
# A claim's commit does not wait for the disk (the statements of a pipeline are one transaction,
# which this setting lasts); an answer's commit still does. A claim lost in a crash of
# PostgreSQL itself (of the last 3 x wal_writer_delay at most, 0.6 s by default; every save
# flushes all before it) lets its task be served once more, as after a claim expires. One flush
# per batch instead of two: on a disk that syncs in 5 ms, with the flushes of every server in
# one queue, each request waited for one.
_CLAIM_WITHOUT_FLUSH = "SELECT set_config('synchronous_commit', 'off', true)"
_COUNT = "SELECT count(*) FROM claims WHERE dataset_id = %s AND scope = %s"


def _answered_sql(column: str, session: bool) -> str:
    """The parameters, in order: dataset ids, keys (, session)."""
    return (
        "SELECT k.key FROM (SELECT %b::bigint[] AS ids) AS d, unnest(%b::bigint[]) AS k(key) "
        f"CROSS JOIN LATERAL (SELECT FROM answers AS a WHERE a.dataset_id = ANY(d.ids) "
        f"AND a.{column} = k.key"
        + (" AND a.session_id = %s" if session else "")
        + " LIMIT 1) AS found"
    )


def _claim_new_sql(column: str, answered: Sequence[AnsweredIn]) -> str:
    """The parameters, in order: dataset id, scope, session, time, keys, contents; the ids (and
    session) of each `answered` with dataset ids."""
    unanswered = [
        "NOT EXISTS (SELECT 1 FROM answers AS a WHERE a.dataset_id = ANY(%b) "
        f"AND a.{column} = v.key"
        + ("" if where.session is None else " AND a.session_id = %s")
        + " OFFSET 0)"  # not flattened into a join: one index look-up per key
        for where in answered
        if where.dataset_ids
    ]
    condition = " AND ".join(unanswered) or "true"
    return (
        "INSERT INTO claims (dataset_id, scope, task_hash, session_id, claimed_at, content) "
        "SELECT %s, %s, v.key, %s, %s, v.content "
        "FROM unnest(%b::bigint[], %b::text[]) AS v(key, content) "
        f"WHERE {condition} ON CONFLICT DO NOTHING RETURNING task_hash"
    )


def _claim_first_sql(column: str, answered: Sequence[AnsweredIn]) -> str:
    """The parameters, in order: keys, contents, dataset id, scope; the ids (and session) of
    each `answered` with dataset ids; the limit, dataset id, scope, session, time. Rows: the
    keys claimed, then (NULL, the place of the last task picked, how many were picked). Each
    key is looked up on its own, as in `_claim_new_sql`."""
    unanswered = [
        " AND NOT EXISTS (SELECT 1 FROM answers AS a WHERE a.dataset_id = ANY(%b) "
        f"AND a.{column} = v.key"
        + ("" if where.session is None else " AND a.session_id = %s")
        + " OFFSET 0)"
        for where in answered
        if where.dataset_ids
    ]
    return (
        "WITH picked AS (SELECT v.key, v.content, v.ord "
        "FROM unnest(%b::bigint[], %b::text[]) WITH ORDINALITY AS v(key, content, ord) "
        "WHERE NOT EXISTS (SELECT 1 FROM claims AS c WHERE c.dataset_id = %s AND c.scope = %s "
        f"AND c.task_hash = v.key OFFSET 0){''.join(unanswered)} ORDER BY v.ord LIMIT %s), "
        "won AS (INSERT INTO claims "
        "(dataset_id, scope, task_hash, session_id, claimed_at, content) "
        "SELECT %s, %s, key, %s, %s, content FROM picked ORDER BY ord "
        "ON CONFLICT DO NOTHING RETURNING task_hash) "
        "SELECT task_hash, NULL::bigint, NULL::bigint FROM won "
        "UNION ALL SELECT NULL, max(ord), count(*) FROM picked"
    )


def _answered_params(answered: Sequence[AnsweredIn]) -> list[Any]:
    """The parameters of `answered` in a claim statement: each one's dataset ids (and session)."""
    params: list[Any] = []
    for where in answered:
        if where.dataset_ids:
            params.append(BigInts(where.dataset_ids))
            if where.session is not None:
                params.append(where.session)
    return params


class BigInts(list[int]):
    """Values sent as one bigint[] (see `_register_arrays`)."""


class Texts(list[str]):
    """Values sent as one text[]."""


class Floats(list[float]):
    """Values sent as one float8[]."""


# The columns of an answer row (schema.ROW_KEYS), each sent as an array.
_ROW_ARRAYS = (BigInts, Texts, BigInts, BigInts, Texts, Floats, Texts)
_WHOLE = struct.Struct("!iiiii")  # dimensions, has nulls, element type, length, lower bound
_LENGTH, _INT8, _FLOAT8 = struct.Struct("!i"), struct.Struct("!q"), struct.Struct("!d")


def _register_arrays(adapters: Any) -> None:
    """Dumpers that write each array's binary form in one `struct` call: psycopg's own looks
    at every element in Python to choose the array's type, then dumps each on its own (the
    parameters of a save of 10 answers: 79 us of CPU with psycopg's, 27 with these)."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    def with_nulls(obj: Any, element_oid: int, one: Callable[[Any], bytes]) -> bytes:
        """The general form (NULL elements, which the database then refuses; no elements)."""
        if not obj:
            return struct.pack("!iii", 0, 0, element_oid)
        parts = [_WHOLE.pack(1, 1, element_oid, len(obj), 1)]
        for value in obj:
            if value is None:
                parts.append(_LENGTH.pack(-1))
            else:
                data = one(value)
                parts.append(_LENGTH.pack(len(data)) + data)
        return b"".join(parts)

    class BigIntsDumper(Dumper):
        format = Format.BINARY
        oid = 1016  # int8[]

        def dump(self, obj: Any) -> bytes:
            if not obj or None in obj:
                return with_nulls(obj, 20, _INT8.pack)
            # Each element: its length (8), then the value.
            items = [8] * (2 * len(obj))
            items[1::2] = obj
            return _WHOLE.pack(1, 0, 20, len(obj), 1) + struct.pack(f"!{'iq' * len(obj)}", *items)

    class FloatsDumper(Dumper):
        format = Format.BINARY
        oid = 1022  # float8[]

        def dump(self, obj: Any) -> bytes:
            if not obj or None in obj:
                return with_nulls(obj, 701, _FLOAT8.pack)
            items: list[Any] = [8] * (2 * len(obj))
            items[1::2] = obj
            return _WHOLE.pack(1, 0, 701, len(obj), 1) + struct.pack(f"!{'id' * len(obj)}", *items)

    class TextsDumper(Dumper):
        format = Format.BINARY
        oid = 1009  # text[]

        def dump(self, obj: Any) -> bytes:
            if not obj or None in obj:
                return with_nulls(obj, 25, str.encode)
            encoded = [value.encode() for value in obj]
            parts: list[bytes] = [b""] * (2 * len(encoded))
            parts[0::2] = [_LENGTH.pack(len(value)) for value in encoded]
            parts[1::2] = encoded
            return _WHOLE.pack(1, 0, 25, len(obj), 1) + b"".join(parts)

    adapters.register_dumper(BigInts, BigIntsDumper)
    adapters.register_dumper(Floats, FloatsDumper)
    adapters.register_dumper(Texts, TextsDumper)


def postgres_engine(url: str, timeout: float) -> Engine:
    """An engine whose connections give up on a server that does not answer, or on a lock held
    by another transaction, after `timeout` seconds."""
    from sqlalchemy import create_engine, event

    engine = create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(timeout))}
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(timeout * 1000)}")
        dbapi_conn.commit()

    return engine


class FastPostgres:
    """PostgreSQL's driver (see driver.Driver): one psycopg connection, in autocommit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None  # the pool's proxy; its driver_connection is psycopg's
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._conn is None:
            from psycopg.types.numeric import Int8BinaryDumper

            proxy = self._engine.raw_connection()
            driver: Any = proxy.driver_connection
            driver.autocommit = True
            # Arrays go in binary (%b): a text array escapes every quote of every task's JSON,
            # by a regular expression, which was the largest CPU cost of a batch here. Every
            # integer as int8, so that each statement keeps one set of parameter types and is
            # prepared once.
            driver.adapters.register_dumper(int, Int8BinaryDumper)
            _register_arrays(driver.adapters)
            # Each statement here reads a few rows by key: a plan that scans a table is a plan
            # made without statistics (see the module's text), never the right one.
            driver.execute("SET enable_seqscan = off")
            # The plans no longer depend on the arrays' lengths: made once, not at every call
            # (left to choose, PostgreSQL kept planning the claim at each batch, as a plan for
            # arrays of unknown length is costed higher than one for the batch at hand).
            driver.execute("SET plan_cache_mode = force_generic_plan")
            self._conn = proxy
        return self._conn.driver_connection

    def _drop_connection(self) -> None:
        """After an error: a connection the server closed is never used again."""
        if self._conn is not None:
            try:
                broken = self._conn.driver_connection.closed or self._conn.driver_connection.broken
            except Exception:
                broken = True
            if broken:
                self._conn.invalidate()
                self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.invalidate()  # its settings are this driver's: not for the pool
                self._conn = None

    def _run(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            try:
                with self._connection().cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall() if cursor.description is not None else []
            except Exception:
                self._drop_connection()
                raise

    def answered(
        self, dataset_ids: Sequence[int], hashes: Sequence[int], by: str, session: str | None
    ) -> set[int]:
        column = "task_hash" if by == "task" else "input_hash"
        params: list[Any] = [BigInts(dataset_ids), BigInts(hashes)]
        if session is not None:
            params.append(session)
        return {row[0] for row in self._run(_answered_sql(column, session is not None), params)}

    def count_claims(self, dataset_id: int, scope: str, session: str | None) -> int:
        if session is None:
            return int(self._run(_COUNT, (dataset_id, scope))[0][0])
        sql = _COUNT + " AND session_id = %s"
        return int(self._run(sql, (dataset_id, scope, session))[0][0])

    def save(
        self, rows: list[tuple[Any, ...]], release: Release | None = None
    ) -> list[tuple[str, str]]:
        columns: list[Any] = [
            kind(column)
            for kind, column in zip(
                _ROW_ARRAYS, list(zip(*rows, strict=True)) or [()] * 7, strict=True
            )
        ]
        if release is not None and release[2]:
            dataset_id, scope, keys = release
            new = self._run(_SAVE_AND_RELEASE, [dataset_id, scope, BigInts(keys), *columns])
        elif rows:
            new = self._run(_SAVE, columns)
        else:
            return []
        return [(row[0], row[1]) for row in new]

    def write_mark(self) -> int | None:
        return None  # no cheap way to tell: the look-ups always run

    def release(self, dataset_id: int, scope: str, keys: Sequence[int]) -> None:
        if keys:
            self._run(_RELEASE, (dataset_id, scope, BigInts(keys)))

    def _claim_checked(
        self,
        claim: str,
        params: list[Any],
        dataset_id: int,
        scope: str,
        keys: BigInts,
        column: str,
        answered: Sequence[AnsweredIn],
    ) -> tuple[list[Any], set[int]]:
        """Runs a claim statement (its first column: the keys won, or NULL) in one pipeline
        with the look-ups of answers committed while it ran, and releases the claims those
        answers made late; the statement's rows and the keys still won."""
        checks = [where for where in answered if where.dataset_ids]
        with self._lock:
            try:
                conn = self._connection()
                cursors = [conn.cursor() for _ in range(len(checks) + 1)]
                with conn.pipeline():
                    conn.execute(_CLAIM_WITHOUT_FLUSH)
                    cursors[0].execute(claim, params)
                    for cursor, where in zip(cursors[1:], checks, strict=True):
                        check: list[Any] = [BigInts(where.dataset_ids), keys]
                        if where.session is not None:
                            check.append(where.session)
                        cursor.execute(_answered_sql(column, where.session is not None), check)
                rows = cursors[0].fetchall()
                late: set[int] = set()
                for cursor in cursors[1:]:
                    late |= {row[0] for row in cursor.fetchall()}
                for cursor in cursors:
                    cursor.close()
            except Exception:
                self._drop_connection()
                raise
        won = {row[0] for row in rows if row[0] is not None}
        late &= won
        if late:  # rare: answered by another process while this claim was made
            self.release(dataset_id, scope, sorted(late))
            won -= late
        return rows, won

    def claim_new(
        self,
        dataset_id: int,
        scope: str,
        session: str,
        keyed: Sequence[Keyed],
        by: str,
        answered: Sequence[AnsweredIn],
    ) -> list[int] | None:
        """The claim skips tasks answered as its statement began; an answer committed while
        it ran (by the session that held the task, whose release let this claim in) is seen
        by the look-up that follows it in the same pipeline, and that claim is released."""
        if not keyed:
            return []
        column = "task_hash" if by == "task" else "input_hash"
        keys = BigInts(key for key, _ in keyed)
        contents = Texts(content for _, content in keyed)
        params = [dataset_id, scope, session, time.time(), keys, contents]
        params += _answered_params(answered)
        claim = _claim_new_sql(column, answered)
        _rows, won = self._claim_checked(claim, params, dataset_id, scope, keys, column, answered)
        if len(won) == len(keys):
            return None
        return [key for key in keys if key in won]

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
        """One statement picks and claims, so that the tasks it finds free are not taken by
        another process while a second round trip is on its way (a server behind fast
        workers would otherwise lose every task at their front); the look-up for answers
        committed meanwhile goes in the same pipeline, as in `claim_new`."""
        column = "task_hash" if by == "task" else "input_hash"
        keys = BigInts(key for key, _ in keyed)
        params: list[Any] = [keys, Texts(content for _, content in keyed), dataset_id, scope]
        params += _answered_params(answered)
        params += [limit, dataset_id, scope, session, time.time()]
        claim = _claim_first_sql(column, answered)
        rows, won = self._claim_checked(claim, params, dataset_id, scope, keys, column, answered)
        last, picked = next((row[1], row[2]) for row in rows if row[0] is None)
        looked = int(last) if picked == limit else len(keys)
        return [key for key in keys if key in won], looked
