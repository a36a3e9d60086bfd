"""Stable task hashes: the same task gets the same integers in every process and machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

INPUT_KEYS = ("text", "html", "image", "input")
TASK_KEYS = ("label", "spans", "options")
INPUT_HASH = "_input_hash"
TASK_HASH = "_task_hash"
# 53 bits: JavaScript numbers hold every such integer exactly.
_SHIFT = 64 - 53

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _digest(text: str) -> int:
    raw = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(raw, "big") >> _SHIFT


def input_hash(task: dict[str, Any], keys: Iterable[str] = INPUT_KEYS) -> int:
    """A hash of the task's input keys (text, html, image, input)."""
    return _digest(_dumps({k: task[k] for k in keys if k in task}))


def task_hash(task: dict[str, Any], in_hash: int, keys: Iterable[str] = TASK_KEYS) -> int:
    """A hash of the input hash plus the task keys (label, spans, options)."""
    return _digest(_dumps([in_hash, {k: task[k] for k in keys if k in task}]))


def set_hashes(task: dict[str, Any], overwrite: bool = False) -> dict[str, Any]:
    """Set `_input_hash` and `_task_hash` in place, keeping hashes already present."""
    if overwrite or not isinstance(task.get(INPUT_HASH), int):
        task[INPUT_HASH] = input_hash(task)
    if overwrite or not isinstance(task.get(TASK_HASH), int):
        task[TASK_HASH] = task_hash(task, task[INPUT_HASH])
    return task
