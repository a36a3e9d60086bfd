"""A resumed run costs what is left: totals in distinct tasks, earlier answers counted as done,
answered tasks left out before a recipe's steps, and a bar that reads as tqdm's."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import srsly
from typer.testing import CliRunner

from recipe_runner import recipe, run_headless
from recipe_runner.cli import app
from recipe_runner.loaders import SKIP_CHUNK, Stream, get_stream
from recipe_runner.runner import find_recipe, prepare_run

from .conftest import NEWS

Task = dict[str, Any]


def news_texts() -> list[str]:
    return [t["text"] for t in srsly.read_jsonl(NEWS)]


def test_the_total_counts_distinct_tasks() -> None:
    texts = news_texts()
    assert (len(texts), len(set(texts))) == (200, 178)
    run = prepare_run(find_recipe("mark"), ("news", str(NEWS)))
    try:
        assert run.controller.total == 178
    finally:
        run.controller.close()
        assert run.controller.db is not None
        run.controller.db.close()


def test_a_resumed_run_counts_what_the_dataset_holds_of_its_source(tmp_path: Path) -> None:
    half = tmp_path / "half.jsonl"
    srsly.write_jsonl(half, [{"text": t} for t in dict.fromkeys(news_texts())][:100])
    other = tmp_path / "other.jsonl"
    srsly.write_jsonl(other, [{"text": f"not in the source {i}"} for i in range(30)])
    run_headless("mark", "news", str(half), show_progress=False)
    run_headless("mark", "news", str(other), show_progress=False)  # same dataset, other texts
    run = prepare_run(find_recipe("mark"), ("news", str(NEWS)))
    controller = run.controller
    try:
        controller.start()
        session = controller.session_id("again")
        info = controller.progress(session)
        assert (info.done, info.total) == (100, 178)
        assert info.progress == pytest.approx(100 / 178)
        tasks = controller.get_questions(session)
        result = controller.receive_answers(session, [{**t, "answer": "accept"} for t in tasks])
        assert result.progress.done == 110
        assert result.progress.progress == pytest.approx(110 / 178)
    finally:
        controller.close()
        assert controller.db is not None
        controller.db.close()


SEEN: list[str] = []


@recipe("costly.correct")
def costly_correct(dataset: str, source: str) -> dict[str, Any]:
    """Each task goes through a costly step (a model), which records what it saw."""

    def step(tasks: Iterator[Task]) -> Iterator[Task]:
        for task in tasks:
            SEEN.append(task["text"])
            yield {**task, "spans": [{"start": 0, "end": 1, "label": "X"}]}

    return {
        "dataset": dataset,
        "stream": get_stream(source).apply(step),
        "view_id": "ner_manual",
        "config": {"exclude_by": "input"},
    }


def test_answered_tasks_are_left_out_before_the_recipe_steps(tmp_path: Path) -> None:
    source = tmp_path / "src.jsonl"
    texts = [f"text number {i}" for i in range(300)]
    srsly.write_jsonl(source, [{"text": t} for t in texts])
    answered: list[Task] = []

    def stop_after_120(task: Task) -> str:
        if len(answered) == 120:
            raise KeyboardInterrupt  # as a second Ctrl-C would, between two batches
        answered.append(task)
        return "accept"

    SEEN.clear()
    with pytest.raises(KeyboardInterrupt):
        run_headless(costly_correct, "c", str(source), answer=stop_after_120, show_progress=False)
    SEEN.clear()
    summary = run_headless(costly_correct, "c", str(source), show_progress=False)
    assert summary.saved == 180
    assert texts[120:] == SEEN  # the step never met an answered text
    assert summary.progress == 1.0


def test_the_headless_bar_reads_as_tqdm_users_expect() -> None:
    result = CliRunner().invoke(app, ["run", "--headless", "mark", "news", str(NEWS)])
    assert result.exit_code == 0, result.output
    last_bar = result.stderr.strip().splitlines()[-2].split("\r")[-1]
    assert re.fullmatch(r"mark: 100%\|█+\| 178/178 \[\d\d:\d\d<00:00, \d+ answers/s\]", last_bar), (
        last_bar
    )


READ: list[int] = []


@recipe("answered.mostly")
def answered_mostly(dataset: str, count: int, stop_at: int) -> dict[str, Any]:
    """A source read one task at a time (counted in READ), which presses Ctrl-C when it reaches
    task `stop_at`, with a recipe step after the skip of answered tasks."""

    def read() -> Iterator[Task]:
        for i in range(count):
            READ.append(i)
            if i == stop_at:
                os.kill(os.getpid(), signal.SIGINT)
            yield {"text": f"text number {i}"}

    def step(tasks: Iterator[Task]) -> Iterator[Task]:
        for task in tasks:
            yield {**task, "spans": []}

    return {
        "dataset": dataset,
        "stream": Stream(read, lambda: count).apply(step),
        "view_id": "ner_manual",
        "config": {"exclude_by": "input"},
    }


def test_ctrl_c_while_a_resumed_run_skips_answered_tasks_stops_the_skip() -> None:
    # Every task is answered: run again, the run reads the whole source finding nothing to ask.
    run_headless(answered_mostly, "m", 3000, -1, show_progress=False)
    READ.clear()
    summary = run_headless(answered_mostly, "m", 3000, 300, show_progress=False)
    assert summary.interrupted and summary.saved == 0
    # The skip reads the source in chunks of SKIP_CHUNK: it stops within the chunk after.
    assert len(READ) <= 300 + 2 * SKIP_CHUNK, len(READ)
