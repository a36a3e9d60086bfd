"""How sessions read the stream with feed_overlap: a stream that can start again is read by each
session on its own (nothing kept in memory); a one-shot generator is shared through a tape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from recipe_runner.config import load_config
from recipe_runner.db import Database, connect

from .test_controller import answer_all, make, texts

Task = dict[str, Any]


@pytest.fixture
def db() -> Iterator[Database]:
    database = connect(load_config())
    yield database
    database.close()


class CountingStream:
    """A stream that can be read again, counting how often it was started."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks
        self.starts = 0

    def __iter__(self) -> Iterator[Task]:
        self.starts += 1
        return iter([dict(t) for t in self.tasks])


@pytest.mark.parametrize("reiterable", [True, False], ids=["reiterable", "generator"])
def test_every_session_gets_every_task_once_with_overlap(db: Database, reiterable: bool) -> None:
    source = texts(23)
    stream: Any = CountingStream(source) if reiterable else (dict(t) for t in source)
    ctrl = make(db, {"feed_overlap": True, "batch_size": 5}, dataset="d", stream=stream)
    for session in ("d-ann", "d-bob"):
        answer_all(ctrl, session)
        assert ctrl.session_answered(session) == 23
    counts = ctrl.stats()["dataset"]
    assert counts["accept"] == 46
    if reiterable:
        # Each session started its own pass; nothing was kept for the other one.
        assert stream.starts == 3  # one probe of re-iterability, then one pass per session
        assert ctrl._tape == []


def test_a_late_session_still_gets_everything_with_overlap(db: Database) -> None:
    stream = CountingStream(texts(12))
    ctrl = make(db, {"feed_overlap": True, "batch_size": 4}, dataset="d", stream=stream)
    first = ctrl.get_questions("d-ann")
    answer_all(ctrl, "d-ann")
    late = [t["text"] for t in ctrl.get_questions("d-late")]
    assert late == [t["text"] for t in first]
    assert ctrl.progress("d-ann").progress is None


def test_progress_of_each_session_over_a_file_with_overlap(db: Database, tmp_path: Any) -> None:
    from recipe_runner.loaders import get_stream

    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(f'{{"text": "line {i}"}}\n' for i in range(8)), encoding="utf-8")
    ctrl = make(db, {"feed_overlap": True, "batch_size": 3}, dataset="d", stream=get_stream(path))
    answer_all(ctrl, "d-ann")
    assert ctrl.progress("d-ann").progress == 1.0
    assert ctrl.progress("d-bob").progress == 0.0
    answer_all(ctrl, "d-bob")
    assert ctrl.progress("d-bob").progress == 1.0
