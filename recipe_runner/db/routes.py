"""The pool of routed tasks of a dataset (table `route_tasks`) and the claims sessions make on
them: each claim checks, under a lock, who answered or holds the task, so that no task goes to
more than N sessions nor twice to one, whatever the number of servers (see routing.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, text

from .database import Database, insert_ignoring
from .encoding import dump_json
from .schema import route_tasks

Task = dict[str, Any]


class TaskRoutes:
    """The pool of routed tasks of one dataset and the claims sessions make on them."""

    def __init__(self, db: Database, dataset_id: int, per_task: int | None, by: str) -> None:
        self.db = db
        self.dataset_id = dataset_id
        self.per_task = per_task
        self.column = "task_hash" if by == "task" else "input_hash"
        self.key = "_task_hash" if by == "task" else "_input_hash"
        if by == "input":
            db.ensure_input_index()
        self.postgres = db.engine.dialect.name == "postgresql"
        self._counts: dict[str, int] | None = None  # see routed_counts
        # The statements of every batch, built once.
        keys: Any = bindparam("keys", expanding=True)
        column = self.column
        self._routes_sql = text(
            "SELECT task_key, sessions, complete FROM route_tasks "
            "WHERE dataset_id = :d AND task_key IN :keys"
        ).bindparams(keys)
        self._routes_of_sql = text(
            "SELECT task_key, sessions FROM route_tasks "
            "WHERE dataset_id = :d AND complete = 0 AND task_key IN :keys"
        ).bindparams(keys)
        # The sessions that answered each task or hold an unexpired claim on it.
        self._takers_sql = text(
            "SELECT task_hash, session_id FROM claims WHERE dataset_id = :d "
            "AND task_hash IN :keys AND scope = session_id AND claimed_at >= :live "
            f"UNION SELECT {column}, session_id FROM answers WHERE dataset_id = :d "
            f"AND {column} IN :keys"
        ).bindparams(keys)
        self._answered_sql = text(
            f"SELECT {column}, session_id FROM answers WHERE dataset_id = :d AND {column} IN :keys"
        ).bindparams(keys)
        self._expired_sql = text(
            "DELETE FROM claims WHERE dataset_id = :d AND task_hash IN :keys "
            "AND scope = session_id AND session_id != :s AND claimed_at < :live"
        ).bindparams(keys)
        self._claim_sql = text(
            "INSERT INTO claims (dataset_id, scope, task_hash, session_id, claimed_at, content) "
            "VALUES (:d, :s, :k, :s, :now, :content)"
        )
        self._complete_sql = text(
            "UPDATE route_tasks SET complete = 1 WHERE dataset_id = :d AND task_key IN :keys"
        ).bindparams(keys)

    @contextmanager
    def _locked(self, keys: Iterable[int]) -> Iterator[Connection]:
        """A transaction that alone may route `keys`: on SQLite the write lock, taken up
        front (BEGIN IMMEDIATE), on PostgreSQL a transaction lock per key, in one order
        everywhere so that two servers never wait on each other."""
        with self.db.engine.connect() as conn:
            if self.postgres:
                conn.begin()
                for folded in sorted({_fold(k) for k in keys}):
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": 0x7272 + self.dataset_id % 1000, "b": folded},
                    )
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def add(self, entries: list[tuple[Task, list[str] | None]]) -> None:
        """Put tasks into the pool with their routes; a task already there keeps its own."""
        if not entries:
            return
        now = time.time()
        rows = [
            {
                "dataset_id": self.dataset_id,
                "task_key": int(task[self.key]),
                "sessions": None if route is None else json.dumps(sorted(set(route))),
                "complete": 0,
                "created": now,
                "content": dump_json(task),
            }
            for task, route in entries
        ]
        with self.db.engine.begin() as conn:
            conn.execute(insert_ignoring(self.db.engine, route_tasks), rows)
        if self._counts is not None:
            for _, route in entries:
                for session in set(route or ()):
                    self._counts[session] = self._counts.get(session, 0) + 1

    def known(self, keys: list[int]) -> set[int]:
        """The keys among `keys` already in the pool."""
        if not keys:
            return set()
        marks = ",".join(str(int(k)) for k in keys)
        sql = f"SELECT task_key FROM route_tasks WHERE dataset_id = :d AND task_key IN ({marks})"
        with self.db.engine.connect() as conn:
            return {int(k) for k in conn.execute(text(sql), {"d": self.dataset_id}).scalars()}

    def open_for(self, session: str, limit: int) -> list[Task]:
        """Up to `limit` pooled tasks that `session` neither holds nor answered, oldest first
        (whether it may take them is decided by `claim`)."""
        sql = (
            "SELECT r.content FROM route_tasks r WHERE r.dataset_id = :d AND r.complete = 0 "
            # Routed to others only: passed by here (the claim checks the name exactly).
            "AND (r.sessions IS NULL OR r.sessions LIKE :named) "
            "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.dataset_id = :d AND c.scope = :s "
            "AND c.task_hash = r.task_key) "
            f"AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.dataset_id = :d "
            f"AND a.{self.column} = r.task_key AND a.session_id = :s) "
            "ORDER BY r.id LIMIT :n"
        )
        with self.db.engine.connect() as conn:
            params = {"d": self.dataset_id, "s": session, "n": limit, "named": f'%"{session}"%'}
            rows = conn.execute(text(sql), params)
            return [json.loads(content) for content in rows.scalars()]

    def claim(self, session: str, tasks: list[Task], timeout: float) -> list[Task]:
        """Claim for `session` those of `tasks` (pooled) it may take: routed to it, or with
        fewer than N sessions that answered or hold an unexpired claim; never one it answered
        or holds. The tasks claimed, in their order."""
        if not tasks:
            return []
        now = time.time()
        keys = [int(t[self.key]) for t in tasks]
        params = {"d": self.dataset_id, "keys": keys, "s": session, "live": now - timeout}
        with self._locked(keys) as conn:
            routes = {
                int(k): (sessions, complete)
                for k, sessions, complete in conn.execute(self._routes_sql, params)
            }
            takers: dict[int, set[str]] = {}
            for key, taker in conn.execute(self._takers_sql, params):
                takers.setdefault(int(key), set()).add(str(taker))
            won: list[Task] = []
            for key, task in zip(keys, tasks, strict=True):
                route = routes.get(key)
                if route is None or route[1]:
                    continue
                mine = takers.get(key, set())
                if session in mine:
                    continue  # it holds or answered the task already
                if route[0] is not None:
                    if session not in json.loads(route[0]):
                        continue
                elif self.per_task is not None and len(mine) >= self.per_task:
                    continue
                won.append(task)
            if won:
                won_keys = [int(t[self.key]) for t in won]
                # Claims others let expire on these tasks no longer hold them.
                conn.execute(self._expired_sql, {**params, "keys": won_keys})
                conn.execute(
                    self._claim_sql,
                    [
                        {**params, "k": key, "now": now, "content": dump_json(task)}
                        for key, task in zip(won_keys, won, strict=True)
                    ],
                )
        return won

    def settle(self, keys: list[int]) -> None:
        """Mark complete the pooled tasks among `keys` that have all the answers they need."""
        if not keys:
            return
        params = {"d": self.dataset_id, "keys": sorted(set(keys))}
        with self.db.engine.begin() as conn:
            routes: dict[Any, Any] = dict(conn.execute(self._routes_of_sql, params).all())
            if not routes:
                return
            answered: dict[int, set[str]] = {}
            for key, session in conn.execute(self._answered_sql, params):
                answered.setdefault(int(key), set()).add(str(session))
            done = []
            for key, sessions in routes.items():
                have = answered.get(int(key), set())
                if sessions is not None:
                    if set(json.loads(sessions)) <= have:
                        done.append(int(key))
                elif self.per_task is not None and len(have) >= self.per_task:
                    done.append(int(key))
            if done:
                conn.execute(self._complete_sql, {"d": self.dataset_id, "keys": done})

    def routed_counts(self) -> dict[str, int]:
        """Per session, the tasks routed to it by name: read once, then kept up to date with
        the routes this process adds (routes other servers add after that are not seen: a
        balance, not a count)."""
        if self._counts is None:
            counts: dict[str, int] = {}
            sql = "SELECT sessions FROM route_tasks WHERE dataset_id = :d AND sessions IS NOT NULL"
            with self.db.engine.connect() as conn:
                for raw in conn.execute(text(sql), {"d": self.dataset_id}).scalars():
                    for session in json.loads(raw):
                        counts[session] = counts.get(session, 0) + 1
            self._counts = counts
        return self._counts

    def sessions(self) -> set[str]:
        """Every session that answered in the dataset or holds a claim in it."""
        sql = (
            "SELECT session_id FROM claims WHERE dataset_id = :d AND scope = session_id "
            "UNION SELECT session_id FROM answers WHERE dataset_id = :d"
        )
        with self.db.engine.connect() as conn:
            return {str(s) for s in conn.execute(text(sql), {"d": self.dataset_id}).scalars()}

    def open_count(self, session: str) -> int:
        """Pooled tasks `session` could still be given (an upper bound: capacity aside)."""
        return len(self.open_for(session, 1))


def _fold(key: int) -> int:
    """A 64-bit key as a 32-bit lock id (collisions only make two keys wait on each other)."""
    folded = (key ^ (key >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded
