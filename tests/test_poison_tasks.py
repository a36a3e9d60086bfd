"""Poison tasks: one set of shape rules (task_shape) checks a task when it is read (a source
file: an error naming file and line, or skipped with --skip-invalid), when it is served (a
recipe's own tasks: skipped and told, never served) and when its answer comes back (refused
alone, its neighbours saved)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recipe_runner import recipe
from recipe_runner.config import load_config
from recipe_runner.db import Database, connect
from recipe_runner.errors import SourceError
from recipe_runner.loaders import get_stream
from recipe_runner.task_shape import MAX_NESTING, task_problem
from tests.rr_process import rr_env, servers, start_server
from tests.test_controller import make, texts
from tests.test_hostile_input import rr, write
from tests.test_server_api import answered, get
from tests.webserver import live_server


@pytest.fixture
def db() -> Iterator[Database]:
    database = connect(load_config())
    yield database
    database.close()


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"in": value}
    return value


# task -> words of its problem
POISON: list[tuple[dict[str, Any], str]] = [
    ({"text": 12345}, "'text' must be a string, not an int"),
    ({"text": None}, "'text' must be a string, not null"),
    ({"html": ["<b>"]}, "'html' must be a string"),
    ({"text": "t", "spans": "x"}, "'spans' must be a list, not a str"),
    ({"text": "t", "spans": [{"start": "0", "end": 1}]}, "span 0 needs integer 'start' and 'end'"),
    ({"text": "t", "spans": [{"start": 0, "end": 9}]}, "span 0 (0-9) is outside the text"),
    ({"text": "t", "spans": [{"start": 0, "end": 1, "label": 3}]}, "span 0's 'label' must be"),
    ({"text": "t", "spans": [7]}, "span 0 must be an object"),
    ({"text": "t", "tokens": "t"}, "'tokens' must be a list"),
    ({"text": "t", "tokens": [{"text": "t", "start": 0}]}, "token 0 must be an object"),
    ({"text": "t", "options": "abc"}, "'options' must be a list, not a str"),
    ({"text": "t", "options": [{"text": "A"}]}, "option 0 must be an object with an 'id'"),
    ({"text": "t", "options": [{"id": 1, "text": 2}]}, "option 0's 'text' must be a string"),
    ({"text": "t", "accept": "A"}, "'accept' must be a list of option ids"),
    ({"text": "t", "label": ["A"]}, "'label' must be a string"),
    ({"text": "t", "meta": "source"}, "'meta' must be an object"),
    ({"text": "t", "_task_hash": "12"}, "'_task_hash' must be an integer"),
    ({"text": "t", "_input_hash": 2**64}, "'_input_hash' must be an integer"),
    ({"text": "t", "meta": nested(MAX_NESTING)}, f"nested more than {MAX_NESTING} levels deep"),
]
GOOD_SHAPES: list[dict[str, Any]] = [
    {"text": "plain"},
    {"html": "<b>x</b>", "meta": {"a": 1}, "label": "L", "_task_hash": -(2**63)},
    {
        "text": "Apple buys",
        "tokens": [
            {"text": "Apple", "start": 0, "end": 5, "id": 0, "ws": True},
            {"text": "buys", "start": 6, "end": 10, "id": 1, "ws": False},
        ],
        "spans": [{"start": 0, "end": 5, "label": "ORG", "token_start": 0, "token_end": 0}],
    },
    {"text": "t", "options": [{"id": "A", "text": "a"}, {"id": 2}], "accept": ["A", 2]},
    {"text": "t", "spans": None, "meta": None, "label": None},
    {"text": "t", "meta": nested(MAX_NESTING - 2)},
]


@pytest.mark.parametrize(("task", "words"), POISON)
def test_task_problem_names_what_is_wrong(task: dict[str, Any], words: str) -> None:
    problem = task_problem(task)
    assert problem is not None and words in problem


@pytest.mark.parametrize("task", GOOD_SHAPES)
def test_good_tasks_pass(task: dict[str, Any]) -> None:
    assert task_problem(task) is None


# from a source file: at start, with file and line ----------------------------------------------
POISON_LINES = b'{"text":"one"}\n{"text": 12345}\n{"text":"two"}\n{"text":"t","spans":"x"}\n'


def test_a_poison_line_stops_the_run_at_start_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "poison.jsonl", POISON_LINES)
    stream = get_stream(path)
    with pytest.raises(SourceError, match="line 2: 'text' must be a string") as err:
        len(stream)  # what a run does first, before any answer is saved
    assert f"'{path}'" in str(err.value) and "--skip-invalid" in str(err.value)
    with pytest.raises(SourceError, match="line 2"):
        list(stream)
    skipping = get_stream(path, skip_invalid=True)
    assert len(skipping) == 2  # counting notes the bad lines: reading skips them unchecked
    assert [t["text"] for t in skipping] == ["one", "two"] and skipping.skipped == 2
    uncounted = get_stream(path, skip_invalid=True)  # read without counting: checked as read
    assert [t["text"] for t in uncounted] == ["one", "two"] and uncounted.skipped == 2


def test_a_poison_item_of_a_json_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "poison.json", b'[{"text": "a"}, {"text": "b", "options": "abc"}]')
    with pytest.raises(SourceError, match="item 2: 'options' must be a list"):
        len(get_stream(path))


def test_cli_stops_at_start_or_skips_and_counts_poison_lines(tmp_path: Path) -> None:
    lines = b"".join(b'{"text":"task %d"}\n' % i for i in range(30))
    meta = json.dumps({"text": "deep", "meta": nested(70)}).encode()
    path = write(tmp_path, "late.jsonl", lines + meta + b"\n" + b'{"text": 5}\n')
    result = rr("run", "--headless", "mark", "news", str(path), cwd=tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: '{path}' line 31: nested more than 64 levels deep")
    assert "Traceback" not in result.stderr
    assert json.loads(rr("stats", "--json", cwd=tmp_path).stdout) == []
    skipped = rr("run", "--headless", "mark", "news", str(path), "--skip-invalid", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "30 answers saved" in skipped.stderr and "skipped 2 invalid lines" in skipped.stderr


# built by a recipe in Python: skipped when served, and told ------------------------------------
MIXED: list[dict[str, Any]] = [
    {"text": "good 0"},
    {"text": 12345},
    {"text": "good 1", "spans": [{"start": 0, "end": 4, "label": "X"}]},
    {"text": "t", "spans": "x"},
    {"text": "good 2"},
    {"text": "t", "options": "abc"},
    {"text": "deep", "meta": nested(70)},
    {"text": "good 3"},
]


def test_a_recipes_poison_tasks_are_never_served_and_are_told(db: Database) -> None:
    told: list[str] = []
    ctrl = make(db, dataset="ds", stream=list(MIXED))
    ctrl.notify = told.append
    served = ctrl.get_questions("s")
    assert [t["text"] for t in served] == ["good 0", "good 1", "good 2", "good 3"]
    assert ctrl.skipped == 4 and len(told) == 4
    assert "'text' must be a string" in told[0] and "'spans' must be a list" in told[1]
    result = ctrl.receive_answers("s", answered(served))
    assert result.saved == 4 and result.refused == []
    assert ctrl.progress("s").progress == 1.0
    assert ctrl.get_questions("s") == []


def test_tasks_a_recipe_changed_after_loading_are_checked_again(
    db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "fine.jsonl", b'{"text":"one"}\n{"text":"two"}\n')
    spoiled = get_stream(path).map(lambda task: {**task, "spans": "x"})
    ctrl = make(db, dataset="ds", stream=spoiled)
    assert ctrl.get_questions("s") == []
    assert ctrl.skipped == 2


def test_headless_skips_a_recipes_poison_tasks_and_says_how_many(tmp_path: Path) -> None:
    source = tmp_path / "mixed_recipe.py"
    source.write_text(
        "from recipe_runner import recipe\n"
        f"TASKS = {MIXED!r}\n"
        "@recipe('mixed.mark')\n"
        "def mixed(dataset: str):\n"
        "    return {'dataset': dataset, 'stream': TASKS, 'view_id': 'text'}\n"
    )
    result = rr("run", "--headless", "-F", str(source), "mixed.mark", "ds", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 answers saved" in result.stderr and "skipped 4 invalid tasks" in result.stderr
    assert result.stderr.count("Warning: recipe 'mixed.mark': skipped") == 4


# answers judged one by one ---------------------------------------------------------------------
def test_a_bad_answer_is_refused_alone_and_its_neighbours_saved(db: Database) -> None:
    ctrl = make(db, dataset="ds", stream=texts(3))
    tasks = ctrl.get_questions("s")
    good = answered(tasks)
    batch = [
        good[0],
        {"text": 12345, "answer": "accept"},
        good[1],
        {**good[2], "meta": nested(70)},
        "not a task",
        {**good[2], "answer": "maybe"},
        good[2],
    ]
    result = ctrl.receive_answers("s", batch)
    assert result.saved == 3
    assert [(r["index"], r["_task_hash"]) for r in result.refused] == [
        (1, None),
        (3, good[2]["_task_hash"]),
        (4, None),
        (5, good[2]["_task_hash"]),
    ]
    reasons = [r["reason"] for r in result.refused]
    assert "'text' must be a string" in reasons[0] and "64 levels" in reasons[1]
    assert "task object" in reasons[2] and "accept, reject or ignore" in reasons[3]
    assert sorted(a["text"] for a in db.iter_answers("ds")) == ["t0", "t1", "t2"]


def test_the_api_saves_the_good_answers_of_a_batch_and_lists_the_refused() -> None:
    @recipe("ten.mark")
    def ten() -> dict[str, Any]:
        return {"dataset": "ten", "stream": texts(10), "view_id": "text"}

    with live_server(ten) as server:
        tasks = get(server, "/api/questions", session="a")["tasks"]
        batch = answered(tasks)
        batch[3] = {**batch[3], "text": 12345}
        batch[7] = {**batch[7], "spans": "x"}
        response = httpx.post(
            server.url + "/api/answers", json={"session": "a", "answers": batch}, timeout=10
        )
        assert response.status_code == 200
        reply = response.json()
        assert reply["saved"] == 8
        assert [r["index"] for r in reply["refused"]] == [3, 7]
        assert reply["refused"][1]["_task_hash"] == tasks[7]["_task_hash"]
        assert "'spans' must be a list" in reply["refused"][1]["reason"]
        assert reply["errors"] == []
        assert len(server.answers()) == 8
        # The fixed answers are saved on their own; nothing else was held back.
        fixed = httpx.post(
            server.url + "/api/answers",
            json={"session": "a", "answers": [answered(tasks)[3], answered(tasks)[7]]},
            timeout=10,
        )
        assert fixed.json()["saved"] == 2 and fixed.json()["refused"] == []
        assert len(server.answers()) == 10


def test_rr_run_tells_the_skipped_tasks_on_stderr_and_serves_the_good_ones(
    tmp_path: Path,
) -> None:
    source = tmp_path / "mixed_recipe.py"
    source.write_text(
        "from recipe_runner import recipe\n"
        f"TASKS = {MIXED!r}\n"
        "@recipe('mixed.mark')\n"
        "def mixed(dataset: str):\n"
        "    return {'dataset': dataset, 'stream': TASKS, 'view_id': 'text'}\n"
    )
    env = rr_env(tmp_path / "home")
    with servers() as started:
        server = start_server(["-F", str(source), "mixed.mark", "ds"], env, tmp_path)
        started.append(server)
        tasks = httpx.get(server.url + "/api/questions", params={"session": "a"}).json()["tasks"]
        assert [t["text"] for t in tasks] == ["good 0", "good 1", "good 2", "good 3"]
        server.stop()
    told = [line for line in server.stderr if "skipped" in line]
    assert len(told) == 4 and all(line.startswith("Warning: recipe 'mixed.mark'") for line in told)
    assert not any("Warning: serving on" in line for line in server.stderr)  # loopback
