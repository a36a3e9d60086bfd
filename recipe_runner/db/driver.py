"""What a backend's driver does: the statements every batch runs, written for that backend.

The database (`database.py`) and the claims (`claims.py`) ask these questions and never learn
which backend answers: SQLite's driver is `sqlite_fast.py`, PostgreSQL's is `postgres.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from .schema import AnsweredIn

# The claims a save releases in the same transaction: (dataset id, scope, keys).
Release = tuple[int, str, Sequence[int]]
# A row of claims to make: (key, the task as JSON).
Keyed = tuple[int, str]
T = TypeVar("T")


class Driver(Protocol):
    def answered(
        self, dataset_ids: Sequence[int], hashes: Sequence[int], by: str, session: str | None
    ) -> set[int]:
        """The hashes among `hashes` (by "task" or "input") with an answer in one of the
        datasets (by `session`, when given)."""

    def save(
        self, rows: list[tuple[Any, ...]], release: Release | None = None
    ) -> list[tuple[str, str]]:
        """Insert answer rows (schema.ROW_KEYS), skipping those stored before, and release
        `release`'s claims, in one transaction, committed; (session, answer) of the new rows."""

    def claim_new(
        self,
        dataset_id: int,
        scope: str,
        session: str,
        keyed: Sequence[Keyed],
        by: str,
        answered: Sequence[AnsweredIn],
    ) -> list[int] | None:
        """Claim for `session` the keys (distinct) that nobody holds and that have no answer
        in `answered`, safely against other processes doing the same; the keys claimed, or
        None when all were."""

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
        """Claim for `session` up to `limit` of the keys (distinct, in order) that nobody
        holds and that have no answer in `answered`: (the keys claimed, how many of `keyed`
        were looked at; those after are neither claimed nor skipped)."""

    def release(self, dataset_id: int, scope: str, keys: Sequence[int]) -> None:
        """Forget the claims on these keys."""

    def write_mark(self) -> int | None:
        """What others have committed, as a mark: two equal marks mean that no other
        connection committed anything in between; None where the backend can't tell."""

    def count_claims(self, dataset_id: int, scope: str, session: str | None) -> int:
        """How many claims are held in the scope (by `session`, when given)."""

    def close(self) -> None: ...


def answered_anywhere(
    driver: Driver, keys: Sequence[int], by: str, answered: Sequence[AnsweredIn]
) -> set[int]:
    """The keys with an answer in any of `answered`."""
    done: set[int] = set()
    for where in answered:
        if where.dataset_ids and keys:
            done |= driver.answered(where.dataset_ids, keys, by, where.session)
    return done


def first_free(
    keyed: Sequence[tuple[int, T]], taken: set[int], limit: int
) -> tuple[list[tuple[int, T]], int]:
    """The first `limit` of `keyed` (key, item) whose key is not in `taken`, and how many of
    `keyed` that looked at."""
    picked: list[tuple[int, T]] = []
    for index, row in enumerate(keyed):
        if row[0] not in taken:
            picked.append(row)
            if len(picked) == limit:
                return picked, index + 1
    return picked, len(keyed)
