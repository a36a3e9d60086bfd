"""One set of rules for the shape of a task, wherever it comes from: a source file, a recipe's
Python code, or the page as an answer. A task that passes can be shown by the page, stored,
exported and read back; one that fails is never served, and an answer that fails is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .hashing import INPUT_HASH, TASK_HASH

Task = dict[str, Any]
INT64 = -(2**63)  # hashes are stored as signed 64-bit integers
HASH_KEYS = (INPUT_HASH, TASK_HASH)
MAX_NESTING = 64  # JSON levels in a task; real tasks nest three or four


def task_problem(task: Task) -> str | None:
    """Why `task` can't be served or stored (its first problem, in a few words), or None.

    Checked: the input keys are strings, the hashes 64-bit integers, `spans`, `tokens`,
    `options` and `accept` lists of the right items, `label` a string, `meta` an object, and
    nothing nested past MAX_NESTING levels. One pass over the task's keys, a string value
    passing at once: this runs on every task read and served and every answer received."""
    for key, value in task.items():
        kind = type(value)
        if kind is str:
            if key not in NOT_A_STRING:
                continue
        elif kind is int and key in HASH_KEYS and INT64 <= value < -INT64:
            continue
        check = CHECKS.get(key)
        if check is not None:
            found = check(task, value)
            if found:
                return found
        if (kind is dict or kind is list) and not _nesting_within(value, MAX_NESTING - 1):
            return f"nested more than {MAX_NESTING} levels deep"
    return None


def _string(key: str) -> Callable[[Task, Any], str | None]:
    def check(_task: Task, value: Any) -> str | None:
        return None if type(value) is str else f"'{key}' must be a string, not {_kind(value)}"

    return check


def _hash(key: str) -> Callable[[Task, Any], str | None]:
    def check(_task: Task, value: Any) -> str | None:
        if value is None or (type(value) is int and INT64 <= value < -INT64):
            return None
        return f"'{key}' must be an integer (64 bits at most), not {short(value)}"

    return check


def _optional_string(key: str) -> Callable[[Task, Any], str | None]:
    def check(_task: Task, value: Any) -> str | None:
        if value is None or type(value) is str:
            return None
        return f"'{key}' must be a string, not {_kind(value)}"

    return check


def _spans(task: Task, spans: Any) -> str | None:
    if spans is None:
        return None
    text = task.get("text")
    return _spans_problem(spans, len(text) if type(text) is str else None)


def _tokens(_task: Task, tokens: Any) -> str | None:
    return None if tokens is None else _tokens_problem(tokens)


def _options(_task: Task, options: Any) -> str | None:
    return None if options is None else _options_problem(options)


def _accept(_task: Task, accept: Any) -> str | None:
    if accept is None or (type(accept) is list and all(_is_option_id(a) for a in accept)):
        return None
    return "'accept' must be a list of option ids (strings or integers)"


def _meta(_task: Task, meta: Any) -> str | None:
    if meta is None or type(meta) is dict:
        return None
    return f"'meta' must be an object, not {_kind(meta)}"


# key -> its check, called with the task and the value; keys not here are only kept from
# nesting too deep.
CHECKS: dict[str, Callable[[Task, Any], str | None]] = {
    "text": _string("text"),
    "html": _string("html"),
    INPUT_HASH: _hash(INPUT_HASH),
    TASK_HASH: _hash(TASK_HASH),
    "spans": _spans,
    "tokens": _tokens,
    "options": _options,
    "accept": _accept,
    "label": _optional_string("label"),
    "meta": _meta,
}
# The checked keys a string is wrong for (for the others a string passes at once).
NOT_A_STRING = frozenset(CHECKS) - {"text", "html", "label"}


def _spans_problem(spans: Any, length: int | None) -> str | None:
    if type(spans) is not list:
        return f"'spans' must be a list, not {_kind(spans)}"
    for i, span in enumerate(spans):
        if type(span) is not dict:
            return f"span {i} must be an object, not {_kind(span)}"
        start, end = span.get("start"), span.get("end")
        if type(start) is not int or type(end) is not int:
            return f"span {i} needs integer 'start' and 'end'"
        if not 0 <= start <= end or (length is not None and end > length):
            return f"span {i} ({start}-{end}) is outside the text"
        label = span.get("label")
        if label is not None and type(label) is not str:
            return f"span {i}'s 'label' must be a string"
        for key in ("token_start", "token_end"):
            value = span.get(key)
            if value is not None and type(value) is not int:
                return f"span {i}'s '{key}' must be an integer"
    return None


def _tokens_problem(tokens: Any) -> str | None:
    if type(tokens) is not list:
        return f"'tokens' must be a list, not {_kind(tokens)}"
    for i, token in enumerate(tokens):
        if (
            type(token) is not dict
            or type(token.get("text")) is not str
            or type(token.get("start")) is not int
            or type(token.get("end")) is not int
        ):
            return f"token {i} must be an object with a string 'text' and integer 'start', 'end'"
    return None


def _options_problem(options: Any) -> str | None:
    if type(options) is not list:
        return f"'options' must be a list, not {_kind(options)}"
    for i, option in enumerate(options):
        if type(option) is not dict or not _is_option_id(option.get("id")):
            return f"option {i} must be an object with an 'id' (a string or an integer)"
        text = option.get("text")
        if text is not None and type(text) is not str:
            return f"option {i}'s 'text' must be a string"
    return None


def _is_option_id(value: Any) -> bool:
    return type(value) is str or type(value) is int


def _nesting_within(value: Any, limit: int) -> bool:
    """Whether no list or dict in `value` is more than `limit` levels deep. The recursion is
    bounded by `limit`, so a hostile task cannot exhaust the stack here, nor later when it is
    hashed or stored."""
    if limit == 0:
        return False
    for child in value.values() if type(value) is dict else value:
        kind = type(child)
        if (kind is dict or kind is list) and not _nesting_within(child, limit - 1):
            return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def short(value: Any, size: int = 40) -> str:
    """`value`'s repr, cut to `size` characters, for messages."""
    text = repr(value)
    return text if len(text) <= size else text[: size - 3] + "..."
