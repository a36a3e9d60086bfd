"""The controller: batches, deduplication, callbacks in their exact order, counts and progress."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recipe_runner.components import check_components
from recipe_runner.config import load_config
from recipe_runner.controller import Controller
from recipe_runner.db import Database, connect
from recipe_runner.errors import AnswerError, DatasetError, SourceError
from recipe_runner.hashing import set_hashes
from recipe_runner.loaders import get_stream

Task = dict[str, Any]


class RecordingDatabase(Database):
    """The real database, noting in `events` when a batch of answers is saved."""

    def __init__(self, url: str, events: list[str]) -> None:
        super().__init__(url)
        self.events = events

    def save_answers(self, dataset: str, batch: list[dict[str, Any]]) -> list[tuple[str, str]]:
        self.events.append(f"save:{len(batch)}")
        return super().save_answers(dataset, batch)


@pytest.fixture
def db() -> Iterator[Database]:
    database = connect(load_config())
    yield database
    database.close()


def make(
    db: Database | None, config: dict[str, Any] | None = None, **components: Any
) -> Controller:
    checked = check_components("test.recipe", {"view_id": "text", **components})
    return Controller(checked, load_config(checked.config, config), db)


def texts(n: int, prefix: str = "t") -> list[Task]:
    return [{"text": f"{prefix}{i}"} for i in range(n)]


def answer_all(ctrl: Controller, session: str, verdict: str = "accept") -> list[Any]:
    """Answer every batch until the stream is exhausted; the results in order."""
    results = []
    for _ in range(1000):
        tasks = ctrl.get_questions(session)
        if not tasks:
            return results
        results.append(ctrl.receive_answers(session, [{**t, "answer": verdict} for t in tasks]))
    raise AssertionError("the stream never ended")


# batches and deduplication ----------------------------------------------------------------
def test_batches_of_batch_size_with_hashes(db: Database) -> None:
    ctrl = make(db, {"batch_size": 4}, dataset="ds", stream=texts(10))
    session = ctrl.session_id("alex")
    assert session == "ds-alex"
    sizes = []
    while batch := ctrl.get_questions(session):
        assert all(
            isinstance(t["_input_hash"], int) and isinstance(t["_task_hash"], int) for t in batch
        )
        sizes.append(len(batch))
        ctrl.receive_answers(session, [{**t, "answer": "accept"} for t in batch])
    assert sizes == [4, 4, 2]
    assert ctrl.exhausted


def test_duplicates_within_the_stream_are_served_once(db: Database) -> None:
    stream = [*texts(5), *texts(5), {"text": "t1", "meta": {"other": True}}]
    ctrl = make(db, {"batch_size": 3}, dataset="ds", stream=stream)
    results = answer_all(ctrl, ctrl.session_id("a"))
    assert sum(r.saved for r in results) == 5


def test_tasks_answered_in_an_earlier_run_are_skipped(db: Database) -> None:
    first = make(db, dataset="ds", stream=texts(6))
    session = first.session_id("a")
    batch = first.get_questions(session)[:4]
    first.receive_answers(session, [{**t, "answer": "reject"} for t in batch])
    second = make(db, dataset="ds", stream=texts(6))
    served = [t["text"] for t in second.get_questions(second.session_id("b"))]
    assert served == ["t4", "t5"]


def test_exclude_datasets_and_exclude_by_input(db: Database) -> None:
    old = make(db, dataset="old", stream=[{"text": "t0", "label": "A"}, {"text": "t1"}])
    answer_all(old, old.session_id("x"))
    stream = [{"text": "t0", "label": "B"}, {"text": "t1"}, {"text": "t2"}]
    # by task: t0 with another label is a new task, t1 is the same task
    by_task = make(db, dataset="new", stream=list(stream), exclude=["old"])
    assert [t["text"] for t in by_task.get_questions("s")] == ["t0", "t2"]
    # by input: t0 was seen, whatever its label
    by_input = make(
        db, {"exclude_by": "input"}, dataset="new2", stream=list(stream), exclude=["old"]
    )
    assert [t["text"] for t in by_input.get_questions("s")] == ["t2"]
    with pytest.raises(DatasetError, match="can't find dataset 'nope' named in 'exclude'"):
        make(db, dataset="new3", stream=[], exclude=["nope"])


def test_auto_exclude_current_off_serves_answered_tasks_again(db: Database) -> None:
    first = make(db, dataset="ds", stream=texts(3))
    answer_all(first, "s")
    again = make(db, {"auto_exclude_current": False}, dataset="ds", stream=texts(3))
    assert len(again.get_questions("s")) == 3


def test_without_dataset_nothing_is_saved_and_duplicates_are_still_skipped() -> None:
    ctrl = make(None, dataset=None, stream=[*texts(3), *texts(3)])
    results = answer_all(ctrl, ctrl.session_id("x"))
    assert ctrl.session_id("x") == "x"
    assert sum(r.saved for r in results) == 3
    assert ctrl.progress("x").progress == 1.0


def test_task_without_the_input_its_view_needs(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"text": "ok"}\n{"html": "<b>x</b>"}\n', encoding="utf-8")
    ctrl = make(db, {"batch_size": 1}, dataset="ds", stream=get_stream(path), view_id="ner")
    with pytest.raises(SourceError, match=r"tasks\.jsonl' line 2: the task has no 'text'"):
        ctrl.get_questions("s")
    ctrl2 = make(db, dataset="ds2", stream=["not a dict"])
    with pytest.raises(SourceError, match="is a str, not a task dict"):
        ctrl2.get_questions("s")


# answers ----------------------------------------------------------------------------------
def test_answers_carry_session_view_and_timestamp(db: Database) -> None:
    ctrl = make(db, dataset="ds", stream=texts(1))
    session = ctrl.session_id("a")
    task = ctrl.get_questions(session)[0]
    ctrl.receive_answers(session, [{**task, "answer": "accept", "spans": []}])
    (saved,) = list(db.iter_answers("ds"))
    assert saved["_session_id"] == "ds-a"
    assert saved["_view_id"] == "text"
    assert isinstance(saved["_timestamp"], int)
    assert saved["spans"] == []
    assert (saved["_input_hash"], saved["_task_hash"]) == (task["_input_hash"], task["_task_hash"])


def test_the_same_answer_twice_is_stored_once(db: Database) -> None:
    ctrl = make(db, dataset="ds", stream=texts(2))
    session = ctrl.session_id("a")
    answers = [{**t, "answer": "accept"} for t in ctrl.get_questions(session)]
    assert ctrl.receive_answers(session, answers).saved == 2
    again = ctrl.receive_answers(session, answers)
    assert again.saved == 0
    assert again.stats["dataset"]["total"] == 2
    assert len(list(db.iter_answers("ds"))) == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("just text", "must be a task object"),
        ({"text": "a", "answer": "maybe"}, "must be accept, reject or ignore"),
        ({"text": "a", "answer": "accept", "_task_hash": "12"}, "'_task_hash' must be an integer"),
        ({"text": "a", "answer": "accept", "_input_hash": True}, "'_input_hash' must be"),
    ],
)
def test_a_bad_answer_is_refused_and_its_good_neighbour_saved(
    db: Database, answer: Any, message: str
) -> None:
    ctrl = make(db, dataset="ds", stream=texts(1))
    good = {**ctrl.get_questions("s")[0], "answer": "accept"}
    result = ctrl.receive_answers("s", [good, answer])
    assert result.saved == 1
    assert [r["index"] for r in result.refused] == [1] and result.errors == []
    assert message in result.refused[0]["reason"]
    assert [a["text"] for a in db.iter_answers("ds")] == ["t0"]


def test_validate_answer_refuses_one_answer_and_saves_the_rest(db: Database) -> None:
    def validate(answer: Task) -> None:
        if answer["text"] == "t1":
            raise ValueError("t1 needs a span")

    ctrl = make(db, dataset="ds", stream=texts(3), validate_answer=validate)
    tasks = ctrl.get_questions("s")
    result = ctrl.receive_answers("s", [{**t, "answer": "accept"} for t in tasks])
    assert result.saved == 2
    assert result.errors == [{"_task_hash": tasks[1]["_task_hash"], "message": "t1 needs a span"}]
    assert sorted(a["text"] for a in db.iter_answers("ds")) == ["t0", "t2"]


def test_before_db_changes_what_is_saved(db: Database) -> None:
    def before_db(answers: list[Task]) -> list[Task]:
        return [{**a, "meta": {"checked": True}} for a in answers]

    ctrl = make(db, dataset="ds", stream=texts(2), before_db=before_db)
    ctrl.receive_answers("s", [{**t, "answer": "accept"} for t in ctrl.get_questions("s")])
    assert [a["meta"] for a in db.iter_answers("ds")] == [{"checked": True}] * 2
    bad = make(db, dataset="ds2", stream=texts(1), before_db=lambda answers: None)
    with pytest.raises(AnswerError, match="before_db must return the list of answers"):
        bad.receive_answers("s", [{**t, "answer": "accept"} for t in bad.get_questions("s")])


def test_update_receives_every_answer_ignore_included_and_a_retry_once(db: Database) -> None:
    seen: list[list[str]] = []
    ctrl = make(
        db,
        dataset="ds",
        stream=texts(3),
        update=lambda answers: seen.append([a["answer"] for a in answers]),
    )
    tasks = ctrl.get_questions("s")
    answers = [
        {**t, "answer": v} for t, v in zip(tasks, ["accept", "ignore", "reject"], strict=True)
    ]
    ctrl.receive_answers("s", answers)
    ctrl.receive_answers("s", answers)  # a retried request: not learned twice
    assert seen == [["accept", "ignore", "reject"]]


def test_lifecycle_order_exactly(tmp_path: Path) -> None:
    events: list[str] = []
    db = RecordingDatabase(f"sqlite:///{tmp_path / 'rec.db'}", events)

    def stream() -> Iterator[Task]:
        for task in texts(3):
            events.append(f"read:{task['text']}")
            yield task

    def progress(session: int) -> float:
        events.append(f"progress:{session}")
        return session / 3

    def update(answers: list[Task]) -> None:
        events.append(f"update:{len(answers)}")

    def before_db(answers: list[Task]) -> list[Task]:
        events.append(f"before_db:{len(answers)}")
        return answers

    ctrl = make(
        db,
        {"batch_size": 2},
        dataset="ds",
        stream=stream(),
        on_load=lambda c: events.append(f"on_load:{c.recipe}"),
        on_exit=lambda c: events.append("on_exit"),
        validate_answer=lambda a: events.append(f"validate:{a['text']}"),
        update=update,
        before_db=before_db,
        progress=progress,
    )
    assert events == []  # nothing runs before start
    ctrl.start()
    session = ctrl.session_id("a")
    while batch := ctrl.get_questions(session):
        events.append(f"batch:{len(batch)}")
        ctrl.receive_answers(session, [{**t, "answer": "accept"} for t in batch])
    ctrl.close()
    ctrl.close()  # once
    db.close()
    assert events == [
        "on_load:test.recipe",
        "read:t0",
        "read:t1",
        "read:t2",  # one read ahead: the end of the stream is known with its last task
        "batch:2",
        "validate:t0",
        "validate:t1",
        "update:2",
        "before_db:2",
        "save:2",
        "progress:2",
        "batch:1",
        "validate:t2",
        "update:1",
        "before_db:1",
        "save:1",
        "progress:3",
        "on_exit",
    ]


# counts -----------------------------------------------------------------------------------
def test_stats_per_session_and_dataset_include_earlier_runs(db: Database) -> None:
    earlier = make(db, dataset="ds", stream=texts(2, "old"))
    answer_all(earlier, earlier.session_id("old"), "reject")
    ctrl = make(db, dataset="ds", stream=texts(4))
    a, b = ctrl.session_id("a"), ctrl.session_id("b")
    ctrl.start()
    assert ctrl.stats(a) == {
        "session": {"accept": 0, "reject": 0, "ignore": 0, "total": 0},
        "dataset": {"accept": 0, "reject": 2, "ignore": 0, "total": 2},
    }
    ta = ctrl.get_questions(a)[:3]
    ctrl.receive_answers(a, [{**ta[0], "answer": "accept"}, {**ta[1], "answer": "ignore"}])
    result = ctrl.receive_answers(b, [{**ta[2], "answer": "accept"}])
    assert result.stats == {
        "session": {"accept": 1, "reject": 0, "ignore": 0, "total": 1},
        "dataset": {"accept": 2, "reject": 2, "ignore": 1, "total": 5},
    }
    assert ctrl.stats(a)["session"] == {"accept": 1, "reject": 0, "ignore": 1, "total": 2}
    assert ctrl.stats(ctrl.session_id("old"))["session"]["reject"] == 2


# progress, in the order of contract section 5 ----------------------------------------------
def test_custom_progress_gets_the_keywords_it_asks_for(db: Database) -> None:
    calls: list[dict[str, Any]] = []

    def progress(*, session: int, total: int, loss: float | None) -> float | None:
        calls.append({"session": session, "total": total, "loss": loss})
        return None if session < 2 else 0.42

    losses = iter([0.9, 0.5, 0.2])
    ctrl = make(
        db,
        {"batch_size": 1},
        dataset="ds",
        stream=texts(3),
        progress=progress,
        update=lambda answers: next(losses),
    )
    values = [r.progress.progress for r in answer_all(ctrl, "ds-a")]
    assert values == [None, 0.42, 0.42]
    assert calls[-3:] == [
        {"session": 1, "total": 1, "loss": 0.9},
        {"session": 2, "total": 2, "loss": 0.5},
        {"session": 3, "total": 3, "loss": 0.2},
    ]
    only_loss: list[Any] = []
    ctrl2 = make(
        db,
        dataset="ds2",
        stream=texts(1),
        progress=lambda loss: only_loss.append(loss),
        update=lambda answers: 0.7,
    )
    answer_all(ctrl2, "s")
    assert only_loss[-1] == 0.7


def test_progress_from_losses_is_unknown_until_enough_data(db: Database) -> None:
    losses = iter([1.0, 0.8, 0.6, 0.4, 0.3, 0.25])
    ctrl = make(db, {"batch_size": 1}, dataset="ds", stream=texts(6), update=lambda a: next(losses))
    values = [r.progress.progress for r in answer_all(ctrl, "s")]
    assert values[0] is None
    known = [v for v in values if v is not None]
    assert known and all(0 < v <= 1 for v in known)
    assert known == sorted(known)  # never goes back


def test_progress_answered_over_total_reaches_exactly_one(db: Database) -> None:
    # 10 tasks: 2 duplicates in the stream and 1 answered in an earlier run, so only 7 new
    # answers: progress stays below 1 until the last is saved, then is exactly 1.0.
    earlier = make(db, dataset="ds", stream=[{"text": "t9"}])
    answer_all(earlier, "earlier")
    stream = [*texts(8), {"text": "t0"}, {"text": "t1"}]
    stream[-3:] = [{"text": "t9"}, {"text": "t0"}, {"text": "t1"}]
    assert len(stream) == 10
    ctrl = make(db, {"batch_size": 2}, dataset="ds", stream=stream)
    assert ctrl.total == 10
    assert ctrl.progress("s").progress == 0.0
    results = answer_all(ctrl, "ds-s")
    values = [r.progress.progress for r in results]
    assert sum(r.saved for r in results) == 7
    assert values[-1] == 1.0
    assert all(v is not None and v < 1.0 for v in values[:-1])
    assert values == sorted(values)
    assert [r.progress.total for r in results] == [10] * len(results)


def test_progress_not_one_while_a_served_task_is_unanswered(db: Database) -> None:
    ctrl = make(db, {"batch_size": 2}, dataset="ds", stream=texts(3))
    first = ctrl.get_questions("s")
    last = ctrl.get_questions("s")
    assert ctrl.exhausted
    result = ctrl.receive_answers("s", [{**t, "answer": "accept"} for t in last])
    assert result.progress.progress == pytest.approx(1 / 3)
    result = ctrl.receive_answers("s", [{**t, "answer": "accept"} for t in first])
    assert result.progress.progress == 1.0


def test_progress_from_source_file_length_and_target(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "four.jsonl"
    path.write_text("".join(f'{{"text": "x{i}"}}\n\n' for i in range(4)), encoding="utf-8")
    ctrl = make(db, {"batch_size": 1}, dataset="ds", stream=get_stream(path))
    assert ctrl.total == 4
    values = [r.progress.progress for r in answer_all(ctrl, "s")]
    assert values == [0.25, 0.5, 0.75, 1.0]

    def endless() -> Iterator[Task]:
        i = 0
        while True:
            i += 1
            yield {"text": f"e{i}"}

    target = make(db, {"total_examples_target": 20}, dataset="ds2", stream=endless())
    assert target.total == 20
    batch = target.get_questions("s")
    result = target.receive_answers("s", [{**t, "answer": "accept"} for t in batch])
    assert result.progress.progress == 0.5


def test_progress_unknown_for_a_generator(db: Database) -> None:
    ctrl = make(db, dataset="ds", stream=(t for t in texts(3)))
    assert ctrl.total is None
    values = [r.progress.progress for r in answer_all(ctrl, "s")]
    assert values == [None]
    assert ctrl.progress("s").progress is None


def test_existing_hashes_are_kept_by_the_controller(db: Database) -> None:
    task = {"text": "prodigy", "_input_hash": 1886699658, "_task_hash": -1952856502}
    ctrl = make(db, dataset="ds", stream=[dict(task)])
    served = ctrl.get_questions("s")
    assert served[0]["_task_hash"] == -1952856502
    ctrl.receive_answers("s", [{**served[0], "answer": "accept"}])
    assert next(db.iter_answers("ds"))["_input_hash"] == 1886699658
    assert set_hashes(dict(task))["_task_hash"] == -1952856502
