"""One set of rules for the shape of a task, wherever it comes from: a source file, a recipe's
Python code, or the page as an answer. A task that passes can be shown by the page, stored,
exported and read back; one that fails is never served, and an answer that fails is refused."""

from __future__ import annotations

from typing import Any

from .hashing import INPUT_HASH, TASK_HASH

Task = dict[str, Any]
# The input key each view cannot do without; `html` may stand in for `text` where it says so.
REQUIRED_INPUT = {
    "text": ("text", "html"),
    "classification": ("text", "html"),
    "choice": ("text", "html", "options"),
    "ner": ("text",),
    "ner_manual": ("text",),
    "html": ("html",),
}
INT64 = -(2**63)  # hashes are stored as signed 64-bit integers
HASH_KEYS = (INPUT_HASH, TASK_HASH)
MAX_NESTING = 64  # JSON levels in a task; real tasks nest three or four


def missing_input(task: Task, view_id: str) -> str | None:
    """What the task lacks for `view_id` (one of its input keys), or None."""
    needed = REQUIRED_INPUT[view_id]
    if task.keys().isdisjoint(needed):
        keys = " or ".join(f"'{k}'" for k in needed)
        return f"the task has no {keys}, which the '{view_id}' view needs"
    return None


def task_problem(task: Task) -> str | None:
    """Why `task` can't be served or stored (its first problem, in a few words), or None.

    Checked: the input keys are strings, the hashes 64-bit integers, `spans`, `tokens`,
    `options` and `accept` lists of the right items, `meta` an object, and nothing nested past
    MAX_NESTING levels. Plain `type() is` tests come first: this runs on every task served and
    every answer received."""
    get = task.get
    for key in ("text", "html"):
        if key in task and type(task[key]) is not str:
            return f"'{key}' must be a string, not {_kind(task[key])}"
    for key in HASH_KEYS:
        value = get(key)
        if value is not None and not (type(value) is int and INT64 <= value < -INT64):
            return f"'{key}' must be an integer (64 bits at most), not {_short(value)}"
    spans = get("spans")
    if spans is not None:
        text = get("text")
        found = _spans_problem(spans, len(text) if type(text) is str else None)
        if found:
            return found
    tokens = get("tokens")
    if tokens is not None:
        found = _tokens_problem(tokens)
        if found:
            return found
    options = get("options")
    if options is not None:
        found = _options_problem(options)
        if found:
            return found
    accept = get("accept")
    if accept is not None and (
        type(accept) is not list or not all(_is_option_id(a) for a in accept)
    ):
        return "'accept' must be a list of option ids (strings or integers)"
    label = get("label")
    if label is not None and type(label) is not str:
        return f"'label' must be a string, not {_kind(label)}"
    meta = get("meta")
    if meta is not None and type(meta) is not dict:
        return f"'meta' must be an object, not {_kind(meta)}"
    if not _nesting_within(task, MAX_NESTING):
        return f"nested more than {MAX_NESTING} levels deep"
    return None


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
    return "null" if value is None else f"a {type(value).__name__}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
