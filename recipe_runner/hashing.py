"""Stable task hashes: the same task gets the same integers in every process and machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

INPUT_KEYS = ("text", "html", "image", "input")
TASK_KEYS = ("label", "spans", "options")
_NOT_TEXT = frozenset(INPUT_KEYS) - {"text"}
INPUT_HASH = "_input_hash"
TASK_HASH = "_task_hash"
# Keys that take a task off the plain-text path of `set_hashes`.
_NOT_PLAIN = _NOT_TEXT | set(TASK_KEYS) | {INPUT_HASH, TASK_HASH}
# 53 bits: JavaScript numbers hold every such integer exactly.
_SHIFT = 64 - 53

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
# The string encoder `_dumps` itself uses (ensure_ascii=False), for the fast path below.
_string = json.encoder.encode_basestring
_blake2b = hashlib.blake2b


def _encode_fields(fields: dict[str, Any]) -> str:
    """Exactly `_dumps(fields)`, several times faster for the common case of string keys and
    string values (the text of a task, its label), which are joined here without the encoder's
    per-call set-up. Anything else goes to `_dumps`: stored datasets depend on these bytes."""
    parts = []
    for key in sorted(fields) if len(fields) > 1 else fields:
        value = fields[key]
        if type(key) is not str or type(value) is not str:
            return _dumps(fields)
        parts.append(f"{_string(key)}:{_string(value)}")
    return "{" + ",".join(parts) + "}"


# A copy of this empty 8-byte BLAKE2b costs a third less than setting one up by its parameters.
_EMPTY_DIGEST = _blake2b(digest_size=8)


def _digest(text: str) -> int:
    state = _EMPTY_DIGEST.copy()
    state.update(text.encode("utf-8"))
    return int.from_bytes(state.digest(), "big") >> _SHIFT


def _text_only_hash(text: str) -> int:
    """The input hash of a task whose only input key is "text": the text of
    `_encode_fields({"text": text})`, written directly."""
    return _digest(f'{{"text":{_string(text)}}}')


def _no_task_keys_hash(in_hash: int) -> int:
    """The task hash of a task with none of TASK_KEYS: the text of `_dumps([in_hash, {}])`."""
    return _digest(f"[{int.__repr__(in_hash)},{{}}]")


def input_hash(task: dict[str, Any], keys: Iterable[str] = INPUT_KEYS) -> int:
    """A hash of the task's input keys (text, html, image, input)."""
    if keys is INPUT_KEYS and task.keys().isdisjoint(_NOT_TEXT):
        text = task.get("text")
        if type(text) is str:
            return _text_only_hash(text)
    return _digest(_encode_fields({k: task[k] for k in keys if k in task}))


def task_hash(task: dict[str, Any], in_hash: int, keys: Iterable[str] = TASK_KEYS) -> int:
    """A hash of the input hash plus the task keys (label, spans, options)."""
    if keys is TASK_KEYS and type(in_hash) is int and task.keys().isdisjoint(TASK_KEYS):
        return _no_task_keys_hash(in_hash)
    fields = {k: task[k] for k in keys if k in task}
    if type(in_hash) is not int:  # e.g. a bool, which JSON writes as true / false
        return _digest(_dumps([in_hash, fields]))
    # The text of `_dumps([in_hash, fields])`: an int is written as its repr.
    return _digest(f"[{int.__repr__(in_hash)},{_encode_fields(fields)}]")


def plain_hashes(task: dict[str, Any]) -> tuple[int, int] | None:
    """(input hash, task hash) of the common task, {"text": ...} without hashes nor task
    keys, as `input_hash` and `task_hash` give them, in one step; None for any other task."""
    text = task.get("text")
    if type(text) is not str or not task.keys().isdisjoint(_NOT_PLAIN):
        return None
    # `_text_only_hash` and `_no_task_keys_hash`, written out: called twice per task read
    # (counting the source, then serving it), where each call costs as much as a digest.
    state = _EMPTY_DIGEST.copy()
    state.update(f'{{"text":{_string(text)}}}'.encode())
    text_hash = int.from_bytes(state.digest(), "big") >> _SHIFT
    state = _EMPTY_DIGEST.copy()
    state.update(f"[{int.__repr__(text_hash)},{{}}]".encode())
    return text_hash, int.from_bytes(state.digest(), "big") >> _SHIFT


def set_hashes(
    task: dict[str, Any],
    input_keys: Iterable[str] = INPUT_KEYS,
    task_keys: Iterable[str] = TASK_KEYS,
    ignore: Iterable[str] = (),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Set `_input_hash` and `_task_hash` in place and return the task.

    The input hash covers `input_keys`, the task hash the input hash plus `task_keys`; keys in
    `ignore` are left out of both. Hashes already present are kept unless `overwrite`."""
    if ignore:
        skip = set(ignore)
        input_keys = tuple(k for k in input_keys if k not in skip)
        task_keys = tuple(k for k in task_keys if k not in skip)
    elif input_keys is INPUT_KEYS and task_keys is TASK_KEYS:
        plain = plain_hashes(task)
        if plain is not None:
            task[INPUT_HASH], task[TASK_HASH] = plain
            return task
    in_hash = task.get(INPUT_HASH)
    if overwrite or not isinstance(in_hash, int):
        in_hash = task[INPUT_HASH] = input_hash(task, input_keys)
    if overwrite or not isinstance(task.get(TASK_HASH), int):
        task[TASK_HASH] = task_hash(task, in_hash, task_keys)
    return task
