"""Who holds which served, unanswered task: in memory for one process, in the database for many.

A claim keeps a task with the session it was served to, so that it is served again to that session
after a reload, to nobody else meanwhile, and to anyone once it is older than `claim_timeout`.
The scope is "" when every task goes to one session, or the session id with `feed_overlap`.
A claim is keyed by the task hash, or by the input hash when tasks are told apart by their input
(`exclude_by: "input"`): then two tasks of one text are never out at once.

The controller asks its questions in its own terms (claim a batch of unanswered tasks for a
session, save answers and release their claims, which held tasks are answered meanwhile) and
`open_claims` chooses who answers them; the database's driver chooses how.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, func, select, update

from .database import Database, insert_ignoring
from .driver import first_free
from .encoding import claim_json
from .outages import guarded
from .schema import AnsweredIn, claims

Task = dict[str, Any]
INPUT_HASH = "_input_hash"


class ClaimStore(Protocol):
    # What the controller asks, once per batch.
    def claim_unanswered(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
    ) -> list[Task]:
        """Claim for `session` those of `tasks` (distinct keys) that nobody else holds and
        that have no answer in `answered`; the tasks claimed, in their order."""

    def claim_first(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
        limit: int,
    ) -> tuple[list[Task], int]:
        """Claim for `session` up to `limit` of `tasks` (distinct keys, in the stream's order)
        that nobody holds and that have no answer in `answered`: (the tasks claimed, how many
        of `tasks` were looked at). Those after them are neither claimed nor skipped: the
        caller puts them back into the stream."""

    def unanswered(
        self, scope: str, tasks: list[Task], answered: Sequence[AnsweredIn]
    ) -> list[Task]:
        """Of tasks held in `scope`, those still unanswered; the claims of the others (answered
        meanwhile, e.g. before a crash) are released."""

    def saved_by(self, session: str, task_hashes: list[int]) -> set[int]:
        """The task hashes among `task_hashes` that `session` has an answer for already."""

    def save(self, answers: list[Task], scope: str, keys: list[int]) -> list[tuple[str, str]]:
        """Save answers and release the claims on `keys` (in one transaction, where the claims
        are in the database); (session, answer) of the answers that were new."""

    def outstanding(self, scope: str, session: str) -> list[Task]:
        """Tasks claimed by `session` and not released, oldest first."""

    def take_expired(self, scope: str, session: str, limit: int, timeout: float) -> list[Task]:
        """Move up to `limit` claims older than `timeout` seconds to `session`."""

    def count(self, scope: str, session: str | None = None) -> int:
        """How many claims are held in the scope (by `session`, when given)."""

    # The rules themselves (claims with no answers to look at).
    def claim(self, scope: str, session: str, tasks: list[Task], timeout: float) -> list[Task]:
        """Claim tasks for `session`; those it now holds that it did not hold before (a claim
        of another session changes hands once it is older than `timeout`)."""

    def release(self, scope: str, hashes: Iterable[int]) -> None:
        """Forget the claims on these task hashes (they are answered)."""


def open_claims(db: Database | None, dataset: str | None, key: str, shared: bool) -> ClaimStore:
    """The claims of a run: in the database when several processes serve one dataset
    (`shared`), else in memory (answers still go to `db`, when there is a dataset)."""
    if shared and db is not None and dataset is not None:
        return DatabaseClaims(db, dataset, key)
    return MemoryClaims(key, db, dataset)


class _AskAnswers:
    """What both stores ask the answers: which keys are answered, through the database."""

    db: Database | None
    dataset: str | None
    key: str
    by: str

    def answered(self, keys: list[int], answered: Sequence[AnsweredIn]) -> set[int]:
        done: set[int] = set()
        if self.db is not None:
            for where in answered:
                ids = list(where.dataset_ids)
                done |= self.db.answered_hashes(ids, keys, self.by, session=where.session)
        return done

    def unanswered(
        self, scope: str, tasks: list[Task], answered: Sequence[AnsweredIn]
    ) -> list[Task]:
        if not tasks or self.db is None:
            return tasks
        key = self.key
        done = self.answered([t[key] for t in tasks], answered)
        if done:
            self.release(scope, [t[key] for t in tasks if t[key] in done])
        return [t for t in tasks if t[key] not in done]

    def saved_by(self, session: str, task_hashes: list[int]) -> set[int]:
        if self.db is None or self.dataset is None:
            return set()
        dataset_id = self.db.dataset_id(self.dataset)
        if dataset_id is None:
            return set()
        return self.db.answered_hashes([dataset_id], task_hashes, "task", session=session)

    def release(self, scope: str, hashes: Iterable[int]) -> None:
        raise NotImplementedError


@dataclass
class _Claim:
    session: str
    claimed_at: float
    task: Task


class MemoryClaims(_AskAnswers):
    """Claims for a single process. Holds only served, unanswered tasks. Without a database
    (a recipe with no dataset), a task counts as answered once it has been served."""

    def __init__(
        self, key: str = "_task_hash", db: Database | None = None, dataset: str | None = None
    ) -> None:
        self.key = key
        self.by = "input" if key == INPUT_HASH else "task"
        self.db = db if dataset is not None else None
        self.dataset = dataset
        self._claims: dict[tuple[str, int], _Claim] = {}
        self._served: set[tuple[str, int]] = set()  # what was served, when nothing is saved

    def claim_unanswered(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
    ) -> list[Task]:
        keys = [t[self.key] for t in tasks]
        if self.db is not None:
            done = self.answered(keys, answered)
        else:
            done = {k for k in keys if (scope, k) in self._served}
            self._served.update((scope, k) for k in keys)
        return self.claim(scope, session, [t for t in tasks if t[self.key] not in done], timeout)

    def claim_first(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
        limit: int,
    ) -> tuple[list[Task], int]:
        if len(tasks) <= limit:
            return self.claim_unanswered(scope, session, tasks, timeout, answered), len(tasks)
        # A chunk read ahead (most of the stream here is answered or held elsewhere): one
        # look-up for the whole chunk, then a claim of no more than `limit`, since a claim
        # holds its task for `claim_timeout` and none is made for a task not served.
        taken = self.taken(scope, [t[self.key] for t in tasks], answered)
        picked, looked = first_free([(t[self.key], t) for t in tasks], taken, limit)
        free = [task for _, task in picked]
        return self.claim_unanswered(scope, session, free, timeout, answered), looked

    def taken(self, scope: str, keys: list[int], answered: Sequence[AnsweredIn]) -> set[int]:
        """Keys not to claim: answered in `answered` (or, without a database, served).
        Claims held in this process are left to `claim`, which takes over expired ones."""
        if self.db is not None:
            return self.answered(keys, answered)
        return {k for k in keys if (scope, k) in self._served}

    def save(self, answers: list[Task], scope: str, keys: list[int]) -> list[tuple[str, str]]:
        if self.db is None or self.dataset is None:
            new = [(a["_session_id"], a["answer"]) for a in answers]
        else:
            new = self.db.save_answers(self.dataset, answers)
        self.release(scope, keys)
        return new

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


class DatabaseClaims(_AskAnswers):
    """Claims in the database, so that several server processes never serve a task twice.

    The unique key (dataset, scope, task hash) decides who wins a race: an insert that conflicts
    claims nothing. An expired claim changes hands with an UPDATE guarded by its old timestamp.
    The claim of every batch and the release with its answers run on the database's driver.
    """

    def __init__(self, db: Database, dataset: str, key: str = "_task_hash") -> None:
        self.db: Database = db
        self.dataset = dataset
        self.key = key  # stored in the column task_hash
        self.by = "input" if key == INPUT_HASH else "task"
        dataset_id = db.dataset_id(dataset, create=True)
        assert dataset_id is not None
        self.dataset_id = dataset_id
        # The statements, built once: SQLAlchemy then compiles each once and caches it.
        self._claim = insert_ignoring(db.engine, claims).returning(claims.c.task_hash)
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
        # (scope, timeout) -> a time before which no claim in the scope can have expired.
        self._quiet_until: dict[tuple[str, float], float] = {}

    @guarded
    def claim_unanswered(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
    ) -> list[Task]:
        if not tasks:
            return []
        if self.by == "input" and any(a.dataset_ids for a in answered):
            self.db.ensure_input_index()
        keyed = [(t[self.key], claim_json(t)) for t in tasks]
        won = self.db.driver.claim_new(self.dataset_id, scope, session, keyed, self.by, answered)
        if won is None:
            return tasks
        found = set(won)
        return [t for t in tasks if t[self.key] in found]

    @guarded
    def claim_first(
        self,
        scope: str,
        session: str,
        tasks: list[Task],
        timeout: float,
        answered: Sequence[AnsweredIn],
        limit: int,
    ) -> tuple[list[Task], int]:
        if len(tasks) <= limit:
            return self.claim_unanswered(scope, session, tasks, timeout, answered), len(tasks)
        if self.by == "input" and any(a.dataset_ids for a in answered):
            self.db.ensure_input_index()
        keyed = [(t[self.key], claim_json(t)) for t in tasks]
        won, looked = self.db.driver.claim_first(
            self.dataset_id, scope, session, keyed, self.by, answered, limit
        )
        found = set(won)
        return [t for t in tasks if t[self.key] in found], looked

    def save(self, answers: list[Task], scope: str, keys: list[int]) -> list[tuple[str, str]]:
        assert self.dataset is not None
        return self.db.save_answers(self.dataset, answers, (scope, keys))

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
    def release(self, scope: str, hashes: Iterable[int]) -> None:
        self.db.driver.release(self.dataset_id, scope, list(hashes))

    @guarded
    def count(self, scope: str, session: str | None = None) -> int:
        return self.db.driver.count_claims(self.dataset_id, scope, session)
