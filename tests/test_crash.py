"""Crash safety: runs killed with SIGKILL and started again lose nothing and repeat nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from .pgtools import sqlalchemy_url
from .rr_process import rr_env, wait_until

TASKS = 6000


def write_source(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f'{{"text": "task number {i}", "meta": {{"i": {i}}}}}\n')
    return path


class Answers:
    """Reads the answers table of a dataset through an engine of its own."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(sqlalchemy_url(url))

    def count(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM answers")).scalar() or 0)
        except Exception:  # the schema is not there yet
            return 0

    def rows(self) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            result = conn.execute(text("SELECT session_id, task_hash FROM answers ORDER BY id"))
            return [(str(s), int(h)) for s, h in result]

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def answers(db_url: str) -> Any:
    reader = Answers(db_url)
    yield reader
    reader.close()


def test_a_killed_headless_run_continues_where_it_stopped(
    db_url: str, tmp_path: Path, answers: Answers
) -> None:
    source = write_source(tmp_path / "tasks.jsonl", TASKS)
    env = rr_env(tmp_path / "home", db_url)
    command = [
        sys.executable,
        "-m",
        "recipe_runner",
        "run",
        "--headless",
        "mark",
        "ds",
        str(source),
    ]
    killed_at = []
    for _ in range(2):  # two crashes
        before = answers.count()
        proc = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            # Kill it mid-way: once it has saved a good share of what is left.
            wait_until(lambda b=before: answers.count() >= b + 1500, 120, "answers to arrive")
        finally:
            proc.kill()
            proc.wait(timeout=30)
        killed_at.append(answers.count())
    assert killed_at[0] < killed_at[1] < TASKS  # both runs were stopped half-way
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = answers.rows()
    hashes = [h for _, h in rows]
    assert len(hashes) == TASKS  # none skipped
    assert len(set(hashes)) == TASKS  # none answered twice, across the three runs
    assert f"{TASKS - killed_at[1]} answers saved" in done.stderr
