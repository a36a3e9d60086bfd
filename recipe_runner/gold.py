"""A simulated annotator for headless mode: answer each task from a gold JSONL file.

`rr run --headless --answer gold:PATH RECIPE ...`. Each gold line holds an input (`text`) and what
is true of it: `label` (with `answer: "reject"` meaning the label is known to be wrong), `accept`
(the chosen option ids) and/or `spans` (`start`, `end`, `label`). Lines are matched to tasks by
`_input_hash`; several lines for one text are merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import srsly

from .errors import SourceError
from .hashing import INPUT_HASH, input_hash

Task = dict[str, Any]


@dataclass
class Gold:
    """What is known to be true of one input."""

    labels: set[str] = field(default_factory=set)
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    has_spans: bool = False


def load_gold(path: str | Path) -> dict[int, Gold]:
    """The gold file indexed by input hash (the one computed from the text, and the `_input_hash`
    stored in the line when there is one). Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(
            f"Can't find the gold file '{path}' for --answer gold:PATH. Check the path."
        )
    index: dict[int, Gold] = {}
    with path.open("rb") as file:
        for lineno, raw in enumerate(file, 1):
            if not raw.strip():
                continue
            where = f"Gold file '{path}' line {lineno}"
            try:
                line = srsly.json_loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as err:
                raise SourceError(f"{where}: malformed JSON ({err}). Fix the line.") from None
            if not isinstance(line, dict) or not any(k in line for k in ("text", "html")):
                raise SourceError(f"{where}: each line must be an object with a 'text'.")
            if line.get("answer") == "ignore":
                continue  # says nothing about the truth
            gold = _merge(index, line, where)
            _read_line(gold, line, where)
    return index


def _merge(index: dict[int, Gold], line: Task, where: str) -> Gold:
    keys = {input_hash(line)}
    stored = line.get(INPUT_HASH)
    if isinstance(stored, int) and not isinstance(stored, bool):
        keys.add(stored)
    found = next((index[k] for k in keys if k in index), None) or Gold()
    for key in keys:
        index[key] = found
    return found


def _read_line(gold: Gold, line: Task, where: str) -> None:
    rejected = line.get("answer") == "reject"
    label = line.get("label")
    if label is not None:
        if not isinstance(label, str):
            raise SourceError(f"{where}: 'label' must be a string.")
        if not rejected and not line.get("spans"):
            gold.labels.add(label)
    accept = line.get("accept")
    if accept is not None:
        if not isinstance(accept, list):
            raise SourceError(f"{where}: 'accept' must be a list of option ids.")
        if not rejected:
            gold.labels.update(str(a) for a in accept)
    spans = line.get("spans")
    if spans is not None:
        if not isinstance(spans, list):
            raise SourceError(f"{where}: 'spans' must be a list.")
        for span in spans:
            try:
                item = (int(span["start"]), int(span["end"]), str(span["label"]))
            except (KeyError, TypeError, ValueError):
                raise SourceError(
                    f"{where}: each span needs integer 'start', 'end' and a 'label'."
                ) from None
            if not rejected and item not in gold.spans:
                gold.spans.append(item)
        if not rejected:
            gold.has_spans = True


def gold_policy(path: str | Path) -> Callable[[Task], Task]:
    """An answer policy that answers from the gold file at `path`.

    - a task with `options` (choice): `accept` set to the gold labels among the options;
    - a task with one span and a `score` (a binary entity question, as `ner.teach` asks): accept
      if that span with that label is a gold span, else reject;
    - a task with `tokens` or `spans` otherwise (`ner_manual`): `spans` set to the gold spans;
    - a task with a `label` (a binary question): accept if the label is a gold label, else reject;
    - a task whose input is not in the gold file: ignore.
    """
    index = load_gold(path)

    def answer(task: Task) -> Task:
        gold = _lookup(index, task)
        if gold is None:
            task["answer"] = "ignore"
            return task
        spans = task.get("spans")
        if "options" in task:
            ids = [o.get("id") for o in task["options"]]
            task["accept"] = [i for i in ids if str(i) in gold.labels]
            task["answer"] = "accept"
        elif isinstance(spans, list) and len(spans) == 1 and "score" in task:
            span = spans[0]
            key = (span.get("start"), span.get("end"), span.get("label"))
            task["answer"] = "accept" if key in gold.spans else "reject"
        elif "tokens" in task or isinstance(spans, list):
            if not gold.has_spans:
                task["answer"] = "ignore"
                return task
            task["spans"] = _spans_for(task, gold.spans)
            task["answer"] = "accept"
        elif "label" in task:
            task["answer"] = "accept" if task["label"] in gold.labels else "reject"
        else:
            task["answer"] = "ignore"
        return task

    answer.__name__ = f"gold:{path}"
    return answer


def _lookup(index: dict[int, Gold], task: Task) -> Gold | None:
    stored = task.get(INPUT_HASH)
    if isinstance(stored, int) and stored in index:
        return index[stored]
    return index.get(input_hash(task))


def _spans_for(task: Task, spans: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """Gold spans as task spans, with token offsets when the task has tokens."""
    tokens = task.get("tokens") or []
    starts = {t["start"]: i for i, t in enumerate(tokens)}
    ends = {t["end"]: i for i, t in enumerate(tokens)}
    out = []
    for start, end, label in sorted(spans):
        span: dict[str, Any] = {"start": start, "end": end, "label": label}
        if start in starts and end in ends:
            span["token_start"], span["token_end"] = starts[start], ends[end]
        out.append(span)
    return out
