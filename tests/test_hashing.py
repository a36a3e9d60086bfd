"""Task hashes: stable across processes, JavaScript-safe, and kept when already present."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from recipe_runner.hashing import (
    INPUT_HASH,
    INPUT_KEYS,
    TASK_HASH,
    TASK_KEYS,
    input_hash,
    set_hashes,
    task_hash,
)

TASKS = [
    {"text": "Hello world"},
    {"text": "Hello world", "label": "GREETING"},
    {"text": "Héllo wörld ✓", "spans": [{"start": 0, "end": 5, "label": "X"}]},
    {"html": "<b>hi</b>", "options": [{"id": "A", "text": "A"}]},
    {"text": "x", "meta": {"source": "ignored by the hashes"}},
]

CHILD = """
import json, sys
from recipe_runner.hashing import set_hashes
tasks = json.loads(sys.stdin.read())
print(json.dumps([[t["_input_hash"], t["_task_hash"]] for t in map(set_hashes, tasks)]))
"""


KNOWN_INPUT = 3417882236006645
KNOWN_TASK = 6947970033024955


def hashes(tasks: list[dict]) -> list[list[int]]:
    return [[t[INPUT_HASH], t[TASK_HASH]] for t in (set_hashes(dict(t)) for t in tasks)]


def test_same_hashes_in_another_process_with_another_hash_seed() -> None:
    # PYTHONHASHSEED differs: a hash built on Python's hash() would change.
    for seed in ("1", "12345"):
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=json.dumps(TASKS),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert json.loads(done.stdout) == hashes(TASKS)


def test_known_values_do_not_drift() -> None:
    # Fixed values: a change of the hash function would orphan every stored answer.
    task = set_hashes({"text": "Hello world"})
    assert task[INPUT_HASH] == input_hash({"text": "Hello world"})
    assert (task[INPUT_HASH], task[TASK_HASH]) == (KNOWN_INPUT, KNOWN_TASK)


def test_hashes_fit_in_a_javascript_number() -> None:
    for i in range(2000):
        task = set_hashes({"text": f"task {i}", "label": str(i % 7)})
        for key in (INPUT_HASH, TASK_HASH):
            assert isinstance(task[key], int)
            assert 0 <= task[key] < 2**53


def test_input_hash_ignores_label_and_meta_task_hash_does_not() -> None:
    plain, labelled, other, with_meta = (
        set_hashes({"text": "a"}),
        set_hashes({"text": "a", "label": "X"}),
        set_hashes({"text": "a", "label": "Y"}),
        set_hashes({"text": "a", "meta": {"m": 1}}),
    )
    assert plain[INPUT_HASH] == labelled[INPUT_HASH] == other[INPUT_HASH] == with_meta[INPUT_HASH]
    assert len({plain[TASK_HASH], labelled[TASK_HASH], other[TASK_HASH]}) == 3
    assert with_meta[TASK_HASH] == plain[TASK_HASH]
    assert set_hashes({"text": "b"})[INPUT_HASH] != plain[INPUT_HASH]


def test_key_order_does_not_matter() -> None:
    a = {"text": "t", "spans": [{"start": 0, "end": 1, "label": "L"}]}
    b = {"spans": [{"label": "L", "end": 1, "start": 0}], "text": "t"}
    assert hashes([a]) == hashes([b])


def test_existing_hashes_are_kept() -> None:
    # Prodigy's own 32-bit hashes, negative ones included, must survive untouched.
    task = {"text": "Hello", "_input_hash": 1886699658, "_task_hash": -1952856502}
    assert set_hashes(task)[INPUT_HASH] == 1886699658
    assert task[TASK_HASH] == -1952856502
    only_input = set_hashes({"text": "Hello", "_input_hash": 5})
    assert only_input[INPUT_HASH] == 5
    assert only_input[TASK_HASH] == task_hash(only_input, 5)
    assert set_hashes(dict(task), overwrite=True)[INPUT_HASH] == input_hash({"text": "Hello"})


def test_non_integer_hashes_are_replaced() -> None:
    task = set_hashes({"text": "Hello", "_input_hash": "abc", "_task_hash": None})
    assert task[INPUT_HASH] == input_hash({"text": "Hello"})
    assert isinstance(task[TASK_HASH], int)


def test_fast_encoding_gives_the_bytes_of_the_json_encoder() -> None:
    # Tasks of plain strings are encoded without the JSON encoder; the hashes must be those of
    # the encoder's text, or stored datasets would no longer match their tasks.
    from recipe_runner.hashing import _digest, _dumps

    class Text(str):
        pass

    odd = 'é✓"\\\n\x00\x1f\u2028😀</'
    tasks = [
        {"text": odd, "label": odd},
        {"html": "<b>x</b>", "text": "t", "input": "i", "image": "data:"},
        {"text": Text("sub")},
        {"text": 5, "label": None},
        {"text": "t", "spans": [], "options": [{"id": 1}], "label": "L"},
        {"input": {"a": [1.5, True]}, "label": odd},
        {},
    ]
    for task in tasks:
        fields = {k: task[k] for k in ("text", "html", "image", "input") if k in task}
        expected = _digest(_dumps(fields))
        assert input_hash(task) == expected
        for in_hash in (expected, True, -7, 2**70):
            labels = {k: task[k] for k in ("label", "spans", "options") if k in task}
            assert task_hash(task, in_hash) == _digest(_dumps([in_hash, labels]))


@pytest.mark.parametrize(
    "task",
    [
        {"text": "plain"},
        {"text": 'quotes " and \\ backslash, \n newline, \u2028, \x00, emoji 🙂, é'},
        {"text": ""},
        {"text": "with meta", "meta": {"id": 1}, "_view_id": "text"},
        {"text": "labelled", "label": "X"},
        {"text": "and html", "html": "<b>x</b>"},
        {"html": "<b>only html</b>"},
    ],
)
def test_the_shortcut_for_plain_text_tasks_gives_the_general_hashes(task: dict) -> None:
    # Keys given as lists take the general path, which the shortcut must agree with.
    in_hash = input_hash(task)
    assert in_hash == input_hash(task, keys=list(INPUT_KEYS))
    assert task_hash(task, in_hash) == task_hash(task, in_hash, keys=list(TASK_KEYS))
    # set_hashes has a shortcut of its own for a task without hashes.
    hashed = set_hashes(dict(task))
    assert hashed["_input_hash"] == input_hash(task, keys=list(INPUT_KEYS))
    assert hashed["_task_hash"] == task_hash(task, hashed["_input_hash"], keys=list(TASK_KEYS))
