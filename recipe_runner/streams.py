"""The loaders recipe authors call: `get_stream` and one function per format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import loaders
from .hashing import INPUT_HASH, set_hashes
from .loaders import Stream

Task = dict[str, Any]


def get_stream(
    source: str | Path | Iterable[Task],
    loader: str | None = None,
    *,
    rehash: bool = False,
    dedup: bool = False,
    input_key: str = "text",
    skip_invalid: bool = False,
) -> Stream:
    """A lazy stream of tasks from a file (or "-" for stdin), or from tasks already in memory.

    `loader` is jsonl, json, csv or txt (by the file's suffix when left out); `rehash` sets both
    hashes anew; `dedup` leaves out tasks whose input hash was already seen (remembering every
    hash it has read); `input_key` names the key a line of a text file goes under. The
    stream's length is known when the source's is (lines are counted without loading them)."""
    if isinstance(source, str | Path):
        stream = loaders.get_stream(source, loader, skip_invalid=skip_invalid)
        if input_key != "text" and (loader or loaders._loader_for(str(source))) == "txt":
            stream = stream.map(lambda task: {input_key: task.pop("text"), **task})
    else:
        stream = _from_tasks(source)
    if rehash:
        stream = stream.map(lambda task: set_hashes(task, overwrite=True))
    if dedup:
        stream = stream.derive(_dedup)  # a Stream given as the source stays as it was
    return stream


def _from_tasks(tasks: Iterable[Task]) -> Stream:
    """Tasks in memory as a stream: a list keeps its length and reads again from the top."""
    if isinstance(tasks, Stream):
        return tasks
    if isinstance(tasks, list | tuple):
        items = list(tasks)
        return Stream(lambda: iter(items), lambda: len(items))
    once = iter(tasks)
    return Stream(lambda: once)


def _dedup(tasks: Iterator[Task]) -> Iterator[Task]:
    seen: set[int] = set()
    for task in tasks:
        key = task.get(INPUT_HASH)
        if not isinstance(key, int):
            key = set_hashes(task)[INPUT_HASH]
        if key in seen:
            continue
        seen.add(key)
        yield task


def JSONL(path: str | Path, **options: Any) -> Stream:
    """Tasks from a JSONL file, one object per line."""
    return get_stream(path, "jsonl", **options)


def JSON(path: str | Path, **options: Any) -> Stream:
    """Tasks from a JSON file holding a list of objects."""
    return get_stream(path, "json", **options)


def CSV(path: str | Path, **options: Any) -> Stream:
    """Tasks from a CSV file with a header row (a `text` column, and `label`, `meta` ...)."""
    return get_stream(path, "csv", **options)


def TXT(path: str | Path, **options: Any) -> Stream:
    """Tasks from a text file, one `{"text": line}` per non-empty line."""
    return get_stream(path, "txt", **options)
