"""Who holds which served, unanswered task: in memory for one process, in the database for many.

A claim keeps a task with the session it was served to, so that it is served again to that session
after a reload, to nobody else meanwhile, and to anyone once it is older than `claim_timeout`.
The scope is "" when every task goes to one session, or the session id with `feed_overlap`.
A claim is keyed by the task hash, or by the input hash when tasks are told apart by their input
(`exclude_by: "input"`): then two tasks of one text are never out at once.
"""

from __future__ import annotations

import json
import operator
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)

from .db import Database, Id, dump_json, metadata

Task = dict[str, Any]

claims = Table(
    "claims",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("task_hash", BigInteger, nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("claimed_at", Float, nullable=False),
    Column("content", Text, nullable=False),
    # Also the index of every look-up by (dataset, scope). The table holds only tasks served
    # and not answered yet, so it stays small, and another index would be upkeep on every
    # claim and every release (schema version 4 dropped the two of version 2).
    UniqueConstraint("dataset_id", "scope", "task_hash", name="uq_claim"),
)


CLAIM_KEYS = ("dataset_id", "scope", "task_hash", "session_id", "claimed_at", "content")

try:  # a claim's content is only ever read back to be served again, through orjson
    import orjson

    def claim_json(task: Task) -> str:
        """A held task as JSON: orjson, five times faster than the standard library on a
        task, and what the web view serves it with anyway (NaN becomes null either way)."""
        try:
            return orjson.dumps(task).decode()
        except TypeError:  # e.g. an integer beyond 64 bits
            return dump_json(task)

except ImportError:  # pragma: no cover - depends on the environment

    def claim_json(task: Task) -> str:
        return dump_json(task)


class ClaimStore(Protocol):
    def claim(self, scope: str, session: str, tasks: list[Task], timeout: float) -> list[Task]:
        """Claim tasks for `session`; those it now holds that it did not hold before."""

    def outstanding(self, scope: str, session: str) -> list[Task]:
        """Tasks claimed by `session` and not released, oldest first."""

    def take_expired(self, scope: str, session: str, limit: int, timeout: float) -> list[Task]:
        """Move up to `limit` claims older than `timeout` seconds to `session`."""

    def release(self, scope: str, hashes: Iterable[int]) -> None:
        """Forget the claims on these task hashes (they are answered)."""

    def count(self, scope: str, session: str | None = None) -> int:
        """How many claims are held in the scope (by `session`, when given)."""


@dataclass(frozen=True)
class AnsweredIn:
    """Where a task counts as answered: an answer with its hash (`by` "task" or "input") in
    one of `dataset_ids`, by `session` only when it is given."""

    dataset_ids: tuple[int, ...]
    session: str | None = None


@dataclass
class _Claim:
    session: str
    claimed_at: float
    task: Task


class MemoryClaims:
    """Claims for a single process. Holds only served, unanswered tasks."""

    def __init__(self, key: str = "_task_hash") -> None:
        self.key = key
        self._claims: dict[tuple[str, int], _Claim] = {}

    def claim(self, scope: str, session: str, tasks: list[Task], timeout: float) -> list[Task]:
        now = time.time()
        won = []
        for task in tasks:
            key = (scope, task[self.key])
            held = self._claims.get(key)
            if held is None or (held.session != session and now - held.claimed_at > timeout):
                self._claims[key] = _Claim(session, now, task)
                won.append(task)
        return won

    def outstanding(self, scope: str, session: str) -> list[Task]:
        held = [c for (s, _), c in self._claims.items() if s == scope and c.session == session]
        return [c.task for c in sorted(held, key=lambda c: c.claimed_at)]

    def take_expired(self, scope: str, session: str, limit: int, timeout: float) -> list[Task]:
        now = time.time()
        taken: list[Task] = []
        for (s, _), held in self._claims.items():
            if len(taken) >= limit:
                break
            if s == scope and held.session != session and now - held.claimed_at > timeout:
                held.session, held.claimed_at = session, now
                taken.append(held.task)
        return taken

    def release(self, scope: str, hashes: Iterable[int]) -> None:
        for task_hash in hashes:
            self._claims.pop((scope, task_hash), None)

    def count(self, scope: str, session: str | None = None) -> int:
        return sum(
            1
            for (s, _), c in self._claims.items()
            if s == scope and (session is None or c.session == session)
        )


class DatabaseClaims:
    """Claims in the database, so that several server processes never serve a task twice.

    The unique key (dataset, scope, task hash) decides who wins a race: an insert that conflicts
    claims nothing. An expired claim changes hands with an UPDATE guarded by its old timestamp.
    """

    def __init__(self, db: Database, dataset: str, key: str = "_task_hash") -> None:
        self.db = db
        self.key = key  # stored in the column task_hash
        dataset_id = db.dataset_id(dataset, create=True)
        assert dataset_id is not None
        self.dataset_id = dataset_id
        self._insert = db._insert(claims)
        # The statements of every batch, built once: SQLAlchemy then compiles each once and
        # caches it, where a statement built per call (a multi-VALUES insert most of all) costs
        # several times SQLite's own work.
        self._claim = self._insert.returning(claims.c.task_hash)
        self._expired = (
            select(claims.c.id, claims.c.claimed_at, claims.c.content)
            .where(
                claims.c.dataset_id == self.dataset_id,
                claims.c.scope == bindparam("scope"),
                claims.c.session_id != bindparam("session"),
                claims.c.claimed_at < bindparam("before"),
            )
            .order_by(claims.c.claimed_at)
        )
        self._oldest = select(func.min(claims.c.claimed_at)).where(
            claims.c.dataset_id == self.dataset_id, claims.c.scope == bindparam("scope")
        )
        # On SQLite the insert and the delete of every batch run on the driver, compiled once
        # (see sqlite_fast.py); anything less common goes through SQLAlchemy as above.
        self._fast = db._fast
        self._fast_insert, order = "", list(CLAIM_KEYS)
        if self._fast is not None:
            compiled = self._insert.compile(dialect=db.engine.dialect, column_keys=order)
            self._fast_insert = str(compiled)
            order = list(compiled.positiontup or ())
        self._fast_params = operator.itemgetter(*order)  # a row dict -> its tuple, in C
        # SQLite 3.35 and newer claim a batch of new tasks and skip the answered ones in one
        # statement (claim_unanswered).
        self.claims_unanswered = self._fast is not None and sqlite3.sqlite_version_info >= (3, 35)
        self._claim_new_sql: dict[tuple[Any, ...], str] = {}
        # (scope, timeout) -> a time before which no claim in the scope can have expired.
        self._quiet_until: dict[tuple[str, float], float] = {}
        self._release = delete(claims).where(
            claims.c.dataset_id == self.dataset_id,
            claims.c.scope == bindparam("scope"),
            claims.c.task_hash.in_(bindparam("hashes", expanding=True)),
        )

    def claim(self, scope: str, session: str, tasks: list[Task], timeout: float) -> list[Task]:
        if not tasks:
            return []
        now = time.time()
        rows = [
            {
                "dataset_id": self.dataset_id,
                "scope": scope,
                "task_hash": t[self.key],
                "session_id": session,
                "claimed_at": now,
                "content": claim_json(t),
            }
            for t in tasks
        ]
        by_hash = {t[self.key]: t for t in tasks}
        if self._fast is not None and len(by_hash) == len(rows):
            params = list(map(self._fast_params, rows))
            if self._fast.write(self._fast_insert, params, expect=len(params)):
                return list(by_hash.values())  # all new: the common case
        with self.db.engine.begin() as conn:
            inserted = conn.execute(self._claim, rows)
            won = {int(h) for h in inserted.scalars()}
            lost = [h for h in by_hash if h not in won]
            if lost:
                # Take over claims on these tasks that another session let expire.
                stale = conn.execute(
                    update(claims)
                    .where(
                        claims.c.dataset_id == self.dataset_id,
                        claims.c.scope == scope,
                        claims.c.task_hash.in_(lost),
                        claims.c.session_id != session,
                        claims.c.claimed_at < now - timeout,
                    )
                    .values(session_id=session, claimed_at=now)
                    .returning(claims.c.task_hash)
                )
                won.update(int(h) for h in stale.scalars())
        return [t for h, t in by_hash.items() if h in won]

    def claim_unanswered(
        self, scope: str, session: str, tasks: list[Task], by: str, answered: list[AnsweredIn]
    ) -> list[Task]:
        """Claim those of `tasks` (distinct keys) that nobody holds and that have no answer in
        `answered`, in one statement; the tasks claimed, in their order. Only where
        `claims_unanswered` is true (SQLite).

        One statement is also what makes it safe with several processes: SQLite runs a write
        on the newest data, so an answer saved (and its claim released) by another process is
        either seen here or saved after this claim, which it then conflicts with. A task held
        by another session is skipped: its holder answers it, or it is taken over once expired
        (take_expired)."""
        if not tasks:
            return []
        column = "task_hash" if by == "task" else "input_hash"
        if by == "input" and any(a.dataset_ids for a in answered):
            self.db.ensure_input_index()
        shape = (len(tasks), column, *((len(a.dataset_ids), a.session is None) for a in answered))
        sql = self._claim_new_sql.get(shape)
        if sql is None:
            sql = self._claim_new_sql[shape] = _claim_unanswered_sql(len(tasks), column, answered)
        now = time.time()
        params: list[Any] = [self.dataset_id, scope, session, now]
        keys = [t[self.key] for t in tasks]
        for key, task in zip(keys, tasks, strict=True):
            params += (key, claim_json(task))
        for where in answered:
            if where.dataset_ids:
                params += where.dataset_ids
                if where.session is not None:
                    params.append(where.session)

        def claimed_now() -> tuple[str, tuple[Any, ...]]:
            """Which rows went in, when not all did: this session's claims made just now."""
            marks = ",".join("?" * len(keys))
            return (
                "SELECT task_hash FROM claims WHERE dataset_id = ? AND scope = ? "
                f"AND session_id = ? AND claimed_at = ? AND task_hash IN ({marks})",
                (self.dataset_id, scope, session, now, *keys),
            )

        found = self._fast.insert_all_or_ask(sql, params, len(tasks), claimed_now)
        if found is None:
            return tasks
        won = set(found)
        return [t for key, t in zip(keys, tasks, strict=True) if key in won]

    def outstanding(self, scope: str, session: str) -> list[Task]:
        stmt = (
            select(claims.c.content)
            .where(
                claims.c.dataset_id == self.dataset_id,
                claims.c.scope == scope,
                claims.c.session_id == session,
            )
            .order_by(claims.c.claimed_at, claims.c.id)
        )
        with self.db.engine.connect() as conn:
            return [json.loads(c) for c in conn.execute(stmt).scalars()]

    def take_expired(self, scope: str, session: str, limit: int, timeout: float) -> list[Task]:
        now = time.time()
        # Asked before every batch served, and nearly always nothing has expired: after a look
        # finds the oldest claim, none can expire before it is `timeout` old, and every claim
        # made or moved since (by any process) carries a later time, so until then there is no
        # need to look. (Across machines, a clock running behind delays a take-over as much.)
        if now < self._quiet_until.get((scope, timeout), 0.0):
            return []
        with self.db.engine.begin() as conn:
            candidates = conn.execute(
                self._expired.limit(limit),
                {"scope": scope, "session": session, "before": now - timeout},
            ).all()
            taken = []
            for claim_id, claimed_at, content in candidates:
                # Guarded by the old timestamp: of two processes, only one moves the claim.
                moved = conn.execute(
                    update(claims)
                    .where(and_(claims.c.id == claim_id, claims.c.claimed_at == claimed_at))
                    .values(session_id=session, claimed_at=now)
                ).rowcount
                if moved:
                    taken.append(json.loads(content))
            if len(candidates) < limit:  # every expired claim is taken: none is left
                oldest = conn.execute(self._oldest, {"scope": scope}).scalar()
                start = now if oldest is None else min(float(oldest), now)
                self._quiet_until[(scope, timeout)] = start + timeout
        return taken

    def release(self, scope: str, hashes: Iterable[int]) -> None:
        wanted = list(hashes)
        if not wanted:
            return
        if self._fast is not None:
            marks = ",".join("?" * len(wanted))
            sql = (
                f"DELETE FROM claims WHERE dataset_id = ? AND scope = ? AND task_hash IN ({marks})"
            )
            self._fast.write(sql, [(self.dataset_id, scope, *wanted)])
            return
        with self.db.engine.begin() as conn:
            conn.execute(self._release, {"scope": scope, "hashes": wanted})

    def count(self, scope: str, session: str | None = None) -> int:
        if self._fast is not None:  # asked on every request once the stream is read to its end
            sql = "SELECT count(*) FROM claims WHERE dataset_id = ? AND scope = ?"
            if session is None:
                return int(self._fast.scalar(sql, (self.dataset_id, scope)))
            sql += " AND session_id = ?"
            return int(self._fast.scalar(sql, (self.dataset_id, scope, session)))
        stmt = select(func.count()).where(
            claims.c.dataset_id == self.dataset_id, claims.c.scope == scope
        )
        if session is not None:
            stmt = stmt.where(claims.c.session_id == session)
        with self.db.engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)


def _claim_unanswered_sql(n: int, column: str, answered: list[AnsweredIn]) -> str:
    """The statement of DatabaseClaims.claim_unanswered for `n` tasks. The parameters, in
    order: dataset id, scope, session, time; (key, content) per task; the ids and session of
    each `answered` with dataset ids."""
    unanswered = [
        "NOT EXISTS (SELECT 1 FROM answers AS a WHERE a.dataset_id IN "
        f"({','.join('?' * len(where.dataset_ids))}) AND a.{column} = v.column1"
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
