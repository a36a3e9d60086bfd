"""The tables, names and row shapes of the store: the leaf every other module of it imports.

Imports nothing of the package, so that the migrations, both backends and the claims can all
build on it without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..errors import DatasetError
from .encoding import dump_json

SCHEMA_VERSION = 6  # migrations.py brings older databases up to it
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
ANSWERS = ("accept", "reject", "ignore")

metadata = MetaData()
# SQLite only makes an INTEGER PRIMARY KEY an auto-incrementing rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")

datasets = Table(
    "datasets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created", Float, nullable=False),
)
answers = Table(
    "answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("input_hash", BigInteger, nullable=False),
    Column("task_hash", BigInteger, nullable=False),
    Column("answer", String(16), nullable=False),
    Column("created", Float, nullable=False),
    Column("content", Text, nullable=False),
    # Task hash before session: the unique key is also the index of the per-batch dedup look-up.
    # Every index here is upkeep on every answer saved (the keys are random), so the input-hash
    # index is built only when a run deduplicates by input (see `ensure_input_index`).
    UniqueConstraint("dataset_id", "task_hash", "session_id", name="uq_answer"),
)
INPUT_INDEX_DDL = "CREATE INDEX IF NOT EXISTS ix_answers_input ON answers (dataset_id, input_hash)"
# Who holds which served, unanswered task (see claims.py).
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
# The pool of routed tasks (annotations_per_task, task_router; see routes.py): each task a team
# shares, with the sessions a router chose for it and whether it has all its answers.
route_tasks = Table(
    "route_tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("task_key", BigInteger, nullable=False),
    # JSON list of the session ids a router chose; null: any session, up to N.
    Column("sessions", Text, nullable=True),
    # 1 once enough sessions answered: the pool look-up passes it by.
    Column("complete", Integer, nullable=False, server_default="0"),
    Column("created", Float, nullable=False),
    Column("content", Text, nullable=False),
    UniqueConstraint("dataset_id", "task_key", name="uq_route_task"),
)
Index("ix_route_tasks_open", route_tasks.c.dataset_id, route_tasks.c.complete, route_tasks.c.id)
# The latest forecast of a model-in-the-loop run, per dataset: what `rr stats` shows.
forecasts = Table(
    "forecasts",
    metadata,
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("answers", Integer, nullable=False),  # answers learned from when it was made
    Column("remaining", Integer, nullable=False),
    Column("low", Integer, nullable=False),
    Column("high", Integer, nullable=False),
    Column("updated", Float, nullable=False),
)
schema_info = Table(
    "rr_schema",
    metadata,
    Column("version", Integer, nullable=False),
)

# The columns of an answer's row and of a claim's row, in the order their tuples give them.
ROW_KEYS = ("dataset_id", "session_id", "input_hash", "task_hash", "answer", "created", "content")
CLAIM_KEYS = ("dataset_id", "scope", "task_hash", "session_id", "claimed_at", "content")


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset or session name: letters, digits, '_', '.', '-', at most 100 characters."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DatasetError(
            f"Invalid {what} name {name!r}: use letters, digits, '_', '.' and '-' "
            "(at most 100 characters, not starting with '.' or '-')."
        )
    return name


@dataclass(frozen=True)
class AnsweredIn:
    """Where a task counts as answered: an answer with its key (task or input hash) in one of
    `dataset_ids`, by `session` only when it is given."""

    dataset_ids: tuple[int, ...]
    session: str | None = None


def answer_values(dataset_id: Any, answer: dict[str, Any], now: float) -> tuple[Any, ...]:
    """The columns of an answer's row, in the order of ROW_KEYS."""
    return (
        dataset_id,
        str(answer.get("_session_id") or ""),
        answer["_input_hash"],
        answer["_task_hash"],
        answer["answer"],
        _timestamp(answer.get("_timestamp"), now),
        dump_json(answer),
    )


def answer_row(dataset_id: Any, answer: dict[str, Any], now: float) -> dict[str, Any]:
    return dict(zip(ROW_KEYS, answer_values(dataset_id, answer, now), strict=True))


def _timestamp(value: Any, now: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return now
