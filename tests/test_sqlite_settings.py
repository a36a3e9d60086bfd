"""The SQLite settings the README promises, read back from the connections that write answers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from recipe_runner.db import Database
from recipe_runner.hashing import set_hashes

# PRAGMA synchronous answers with a number.
LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def pragmas(conn: Any) -> tuple[str, int]:
    cursor = conn.cursor()
    try:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        level = cursor.execute("PRAGMA synchronous").fetchone()[0]
    finally:
        cursor.close()
    return str(mode).lower(), int(level)


@pytest.mark.parametrize(("settings", "level"), [({}, "NORMAL"), ({"synchronous": "FULL"}, "FULL")])
def test_answers_are_written_in_wal_mode_at_the_promised_synchronous_level(
    tmp_path: Path, settings: dict[str, str], level: str
) -> None:
    path = tmp_path / "answers.db"
    db = Database(f"sqlite:///{path}", settings)
    try:
        answer = set_hashes({"text": "t", "answer": "accept", "_session_id": "ds-a"})
        db.save_answers("ds", [answer])  # through the connection every batch uses
        fast: Any = db.driver  # SQLite's: FastSQLite
        assert fast is not None
        assert pragmas(fast._connection()) == ("wal", LEVELS[level])
        raw = db.engine.raw_connection()  # and every other connection of the engine
        try:
            assert pragmas(raw) == ("wal", LEVELS[level])
        finally:
            raw.close()
    finally:
        db.close()
    # WAL is a property of the file: another program opening it finds it so.
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
