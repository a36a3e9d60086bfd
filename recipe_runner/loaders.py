"""Read tasks from JSONL, JSON, CSV or plain text, lazily, with a length known without loading."""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import SourceError
from .hashing import INPUT_HASH, TASK_HASH, input_hash, plain_hashes, task_hash
from .jsonio import loads as json_loads
from .task_shape import task_problem

Task = dict[str, Any]
LOADERS = ("jsonl", "json", "csv", "txt")


class Stream:
    """An iterable of tasks whose length, when it is known, costs no memory to learn.

    Iterating starts the source again from the top. `map` keeps the length, so a recipe can
    add keys to every task and progress still knows the total.
    """

    def __init__(
        self,
        factory: Callable[[], Iterator[Task]],
        length: Callable[[], int] | None = None,
        source: str | None = None,
        parent: Stream | None = None,
        skip_invalid: bool = False,
    ) -> None:
        self._factory = factory
        self._length = length
        self._cached_length: int | None = None
        self.source = source
        self.parent = parent
        self.skip_invalid = skip_invalid
        self.skipped = 0  # invalid lines passed over with skip_invalid
        # Every task it yields passed task_shape's check already (a loader's own stream; not
        # one made by `map` or `apply`, whose function may change the tasks).
        self.shape_checked = False
        # Once counting has read and checked every line: the lines it found invalid (skipped
        # with skip_invalid), so that reading need not check each task's shape again.
        self.bad_lines: set[int] | None = None
        self.line = 0  # line of the source the last task came from
        # Set before the length is first asked: "input" or "task" makes the length count
        # distinct tasks by that hash, and keeps their sorted hashes in `keys` (8 bytes each)
        # for the controller to count what a dataset already holds of this source.
        self.count_by: str | None = None
        self.keys: Any = None
        self.counted: int | None = None  # tasks counted, duplicates too
        # Set by the controller: called with each chunk of tasks read from the source, returns
        # those still to do, before any recipe step (a model) sees them.
        self.skip_done: Callable[[list[Task]], list[Task]] | None = None
        self.one_per_input = parent is None  # each task read gives one task with its input
        # Functions `apply` added in place, run in order over what the source yields (after
        # `skip_done`, so they never meet a task already answered).
        self._steps: list[Callable[[Iterator[Task]], Iterable[Task]]] = []

    def __iter__(self) -> Iterator[Task]:
        tasks = self._factory()
        if self.skip_done is not None:
            tasks = _skipping(tasks, self.skip_done)
        for step in self._steps:
            tasks = iter(step(tasks))
        return tasks

    @property
    def has_steps(self) -> bool:
        """Whether `apply` changed this stream in place."""
        return bool(self._steps)

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("this stream's length is unknown")
        if self._cached_length is None:
            self._cached_length = self._length()
        return self._cached_length

    @property
    def root(self) -> Stream:
        return self.parent.root if self.parent is not None else self

    def location(self) -> str:
        """Where the last task came from, for error messages: "file 'x.jsonl' line 7"."""
        root = self.root
        if root.source is None:
            return f"task {root.line} of the stream"
        return f"'{root.source}' line {root.line}"

    def map(self, func: Callable[[Task], Task]) -> Stream:
        """A stream of `func(task)` for every task, with the same length."""

        def factory() -> Iterator[Task]:
            return (func(task) for task in self)

        length = (lambda: len(self)) if self._length is not None else None
        return self._child(factory, length)

    def _child(self, factory: Callable[[], Iterator[Task]], length: Any) -> Stream:
        child = Stream(factory, length, parent=self)
        child.one_per_input = self.one_per_input
        return child

    def apply(self, func: Callable[..., Iterable[Task]], *args: Any, **kwargs: Any) -> Stream:
        """Run `func` over the stream's tasks from now on, in place (as Prodigy's
        `Stream.apply`), and return the stream, so both `stream.apply(func)` and
        `stream = stream.apply(func)` work.

        `func` gets the tasks where `args` / `kwargs` name this stream (as in
        `stream.apply(add_tokens, nlp=nlp, stream=stream)`), else as its first argument.
        It must yield one task for each task it reads, with its input (for example through
        spaCy's `nlp.pipe`): the length is kept, except for a function marked
        `changes_length` (`split_sentences`, `split_spans`). Tasks already answered are left
        out before `func` sees them, where the run deduplicates by input."""
        named = any(a is self for a in args) or any(v is self for v in kwargs.values())

        def step(tasks: Iterator[Task]) -> Iterable[Task]:
            if not named:
                return func(tasks, *args, **kwargs)
            call_args = [tasks if a is self else a for a in args]
            call_kwargs = {k: tasks if v is self else v for k, v in kwargs.items()}
            return func(*call_args, **call_kwargs)

        self._steps.append(step)
        self.shape_checked = False  # func may change the tasks
        if getattr(func, "changes_length", False):
            self._length = None
            self._cached_length = None
            self.one_per_input = False
        return self

    def derive(self, func: Callable[[Iterator[Task]], Iterator[Task]]) -> Stream:
        """A new stream of `func(tasks)`, leaving this one as it is; like `apply`, `func` must
        yield one task for each task it reads, and the length is kept."""

        def factory() -> Iterator[Task]:
            return func(iter(self))

        length = (lambda: len(self)) if self._length is not None else None
        return self._child(factory, length)


SKIP_CHUNK = 256  # source tasks checked against the database at a time


def _skipping(
    tasks: Iterator[Task], skip_done: Callable[[list[Task]], list[Task]]
) -> Iterator[Task]:
    while True:
        chunk = list(itertools.islice(tasks, SKIP_CHUNK))
        if not chunk:
            return
        yield from skip_done(chunk)


def stream_length(stream: Iterable[Any]) -> int | None:
    """The number of tasks when the stream knows it cheaply, else None."""
    try:
        return len(stream)  # type: ignore[arg-type]
    except TypeError:
        return None


def get_stream(
    source: str | Path,
    loader: str | None = None,
    *,
    skip_invalid: bool = False,
    input_key: str = "text",
) -> Stream:
    """Open `source` (a path, or "-" for stdin) with the loader its suffix names;
    `dataset:NAME[:ANSWERS]` reads the tasks of a stored dataset (see dataset_source.py)."""
    name = str(source)
    if name.startswith("dataset:") and loader is None:
        from .dataset_source import dataset_stream

        return dataset_stream(name)
    kind = loader or _loader_for(name)
    if kind not in LOADERS:
        raise SourceError(
            f"Unknown loader '{kind}' for '{name}'. Use one of: {', '.join(LOADERS)}."
        )
    if name == "-":
        stdin = Stream(
            lambda: _read_lines(sys.stdin.buffer, "<stdin>", kind, stdin),
            None,
            "<stdin>",
            skip_invalid=skip_invalid,
        )
        stdin.shape_checked = True
        return stdin
    path = Path(name)
    if not path.exists():
        raise SourceError(f"Can't find the source file '{path}'. Check the path.")
    if not path.is_file():
        raise SourceError(
            f"The source '{path}' is not a file. Give a JSONL, JSON, CSV or text file."
        )
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise SourceError(f"Can't read the source file '{path}': {err.strerror}.") from None

    def factory() -> Iterator[Task]:
        if kind == "json":
            return _read_json(path, stream)
        return _read_path(path, kind, stream)

    # Counting reads (and checks) every record, so that a bad line stops the run before the
    # first answer is saved rather than halfway through: no partial dataset.
    def length() -> int:
        keys = KeyCounter(stream.count_by)
        if kind == "json":
            for task in _read_json(path, _scratch()):
                keys.add(task)
        else:
            _count_records(path, kind, skip_invalid, stream, keys)
        stream.keys = keys.distinct()
        stream.counted = keys.count
        return keys.count if stream.keys is None else len(stream.keys)

    stream: Stream = Stream(factory, length, name, skip_invalid=skip_invalid)
    stream.shape_checked = True
    return stream


class KeyCounter:
    """Counts tasks; with `by` ("input" or "task"), also collects their hashes, 8 bytes each,
    so that distinct tasks are counted without keeping the tasks."""

    def __init__(self, by: str | None) -> None:
        from array import array

        self.by = by
        self.count = 0
        self._keys = array("q")

    def add(self, task: Task) -> None:
        self.count += 1
        if self.by is not None:
            self._keys.append(task_key(task, self.by))

    def distinct(self) -> Any:
        """The distinct hashes, sorted (a numpy array), or None when not collected."""
        if self.by is None:
            return None
        import numpy

        # Sorted in place, in the collected buffer itself (no copy: 8 MB for a million tasks
        # is the whole cost); copied again only when there are repeats to drop.
        keys = numpy.frombuffer(self._keys, dtype=numpy.int64)
        keys.sort()
        if len(keys) > 1:
            repeats = keys[1:] == keys[:-1]
            if repeats.any():
                keys = numpy.concatenate((keys[:1], keys[1:][~repeats]))
        return keys


def task_key(task: Task, by: str) -> int:
    """The hash a run deduplicates `task` by ("input" or "task"), without changing the task:
    the one it carries, or the one `set_hashes` would give it."""
    if by == "task":
        plain = plain_hashes(task)
        if plain is not None:
            return plain[1]
    found = task.get(INPUT_HASH)
    in_hash = found if type(found) is int else input_hash(task)
    if by == "input":
        return in_hash
    found = task.get(TASK_HASH)
    return found if type(found) is int else task_hash(task, in_hash)


def _loader_for(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    if name == "-" or suffix in ("jsonl", "ndjson", ""):
        return "jsonl"
    if suffix in ("txt", "text"):
        return "txt"
    if suffix in ("json", "csv"):
        return suffix
    raise SourceError(
        f"Can't tell how to read '{name}' from its suffix '.{suffix}'. "
        "Use .jsonl, .json, .csv or .txt, or name a loader with --loader."
    )


def _read_path(path: Path, kind: str, stream: Stream) -> Iterator[Task]:
    with path.open("rb") as file:
        yield from _read_lines(file, str(path), kind, stream)


# A longer line is refused rather than read whole into memory (a binary file has no newlines).
MAX_LINE_BYTES = 64 * 1024 * 1024
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _raw_lines(file: Any, where: str) -> Iterator[tuple[int, bytes | SourceError]]:
    """(line number, bytes) for every line; a line too long is an error in its place, and
    the rest of it is passed over without being kept."""
    lineno = 0
    while True:
        raw = file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = file.readline(MAX_LINE_BYTES)
            yield (
                lineno,
                SourceError(
                    f"'{where}' line {lineno}: longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB. "
                    "Is this a binary file? Give one task per line."
                ),
            )
            continue
        yield lineno, raw


def _decode(raw: bytes, where: str, lineno: int) -> str:
    if lineno == 1 and raw.startswith(UTF16_BOMS):
        raise SourceError(f"'{where}' is UTF-16 encoded. Save the file as UTF-8.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SourceError(
            f"'{where}' line {lineno}: invalid UTF-8 at byte {err.start}. Save the file as UTF-8."
        ) from None
    if lineno == 1 and text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise SourceError(
            f"'{where}' line {lineno}: a NUL byte. Is this a binary file? Fix the line, "
            "or pass --skip-invalid to skip such lines."
        )
    return text


def _read_lines(file: Any, where: str, kind: str, stream: Stream) -> Iterator[Task]:
    skip = stream.skip_invalid
    if kind == "csv":
        yield from _read_csv(file, where, stream)
        return
    fast = kind == "jsonl" and _orjson_loads is not None
    known = stream.bad_lines  # counted already: the shapes are checked
    check = _check_shape if known is None else _shape_counted
    for lineno, raw in _raw_lines(file, where):
        try:
            if known and lineno in known:
                raise SourceError(f"'{where}' line {lineno}: invalid (found when counting)")
            if fast and type(raw) is bytes:
                quick = _quick_json_line(raw)
                if quick is not None:
                    check(quick, where, lineno)
                    stream.line = lineno
                    yield quick
                    continue
            if isinstance(raw, SourceError):
                raise raw
            text = _decode(raw, where, lineno)
            if not text.strip():
                continue
            if kind == "txt":
                task: Any = {"text": text.strip()}
            else:
                task = check(_parse_json_line(text, where, lineno), where, lineno)
        except SourceError:
            if not skip:
                raise
            stream.skipped += 1
            continue
        stream.line = lineno
        yield task


try:  # reads a task line several times faster than the standard library
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson_loads = None  # type: ignore[assignment]

# Every digit as "0", everything else as a space: a run of 19 zeros is a number of 19 digits.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def _quick_json_line(raw: bytes) -> Task | None:
    """The task on a JSONL line, read by orjson; None when the line is left to
    `_parse_json_line`, which has the last word on it (and names the line when it refuses
    it): not a JSON object, malformed or blank, NaN, a byte-order mark, invalid UTF-8, or a
    number of 19 digits or more, which orjson would read as a float where `jsonio.loads`
    keeps an exact integer. On everything else the two read the same values."""
    if raw.translate(_DIGITS_AS_ZEROS).find(_LONG_NUMBER) >= 0:  # cheaper than bytes' `in`
        return None
    try:
        task = _orjson_loads(raw)
    except ValueError:
        return None
    return task if type(task) is dict else None


def _parse_json_line(text: str, where: str, lineno: int) -> Task:
    try:
        task = json_loads(text)  # not srsly's: it reads some floats a unit off
    except ValueError as err:
        raise SourceError(
            f"'{where}' line {lineno}: malformed JSON ({err}). Fix the line, "
            "or pass --skip-invalid to skip such lines."
        ) from None
    if not isinstance(task, dict):
        raise SourceError(
            f"'{where}' line {lineno}: each line must be a JSON object, not "
            f"{type(task).__name__}. Fix the line, or pass --skip-invalid to skip such lines."
        )
    return task


def _check_shape(task: Task, where: str, lineno: int, line: str = "line") -> Task:
    """The task, when its shape is one the page can show and the database store
    (task_shape); otherwise an error naming the file and line."""
    problem = task_problem(task)
    if problem:
        raise SourceError(
            f"'{where}' {line} {lineno}: {problem}. Fix the task, "
            "or pass --skip-invalid to skip such lines."
        )
    return task


def _shape_counted(task: Task, _where: str, _lineno: int) -> Task:
    """`_check_shape` for a stream whose count checked every line already."""
    return task


def _read_csv(file: Any, where: str, stream: Stream) -> Iterator[Task]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_rows(text, where, stream)
    finally:
        # The caller owns `file`: a wrapper left to the garbage collector would close it, and
        # warn (ResourceWarning), before the caller is done with it.
        if not file.closed:
            text.detach()


def _csv_rows(text: Any, where: str, stream: Stream) -> Iterator[Task]:
    reader = csv.DictReader(text)
    try:
        fields = reader.fieldnames or []
    except UnicodeDecodeError:
        raise SourceError(f"'{where}' line 1: invalid UTF-8. Save the file as UTF-8.") from None
    lower = {f.lower().strip(): f for f in fields if f}
    if "text" not in lower:
        raise SourceError(f"'{where}' line 1: a CSV source needs a 'text' column; it has {fields}.")
    text_field = lower["text"]
    label_field = lower.get("label")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise SourceError(
                f"'{where}' line {reader.line_num + 1}: invalid UTF-8. Save the file as UTF-8."
            ) from None
        except csv.Error as err:
            raise SourceError(f"'{where}' line {reader.line_num}: {err}.") from None
        if any("\x00" in v for v in row.values() if isinstance(v, str)):
            if stream.skip_invalid:
                stream.skipped += 1
                continue
            raise SourceError(
                f"'{where}' line {reader.line_num}: a NUL byte. Is this a binary file? "
                "Fix the line, or pass --skip-invalid to skip such lines."
            )
        value = (row.get(text_field) or "").strip()
        if not value:
            continue
        task: Task = {"text": value}
        if label_field and row.get(label_field):
            task["label"] = row[label_field]
        meta = {k: v for k, v in row.items() if k not in (text_field, label_field) and k}
        if meta:
            task["meta"] = meta
        stream.line = reader.line_num
        yield task


def _read_json(path: Path, stream: Stream) -> Iterator[Task]:
    raw = path.read_bytes()
    if raw.startswith(UTF16_BOMS):
        raise SourceError(f"'{path}' is UTF-16 encoded. Save the file as UTF-8.")
    try:
        data = json_loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise SourceError(
            f"'{path}': invalid UTF-8 at byte {err.start}. Save the file as UTF-8."
        ) from None
    except ValueError as err:
        raise SourceError(f"'{path}': malformed JSON ({err}). Fix the file.") from None
    if not isinstance(data, list):
        raise SourceError(f"'{path}': a JSON source must hold a list of task objects.")
    for i, task in enumerate(data, 1):
        if not isinstance(task, dict):
            raise SourceError(f"'{path}' item {i}: each task must be a JSON object.")
        stream.line = i
        yield _check_shape(task, str(path), i, "item")


MAX_BAD_LINES_KEPT = 10_000  # more, and reading checks every line again instead


def _count_records(
    path: Path,
    kind: str,
    skip_invalid: bool = False,
    stream: Stream | None = None,
    keys: KeyCounter | None = None,
) -> int:
    """Count the tasks in a file without keeping them: its valid non-empty lines, or CSV rows.
    Every record is read as iterating would: an invalid one is an error here already, or left
    out of the count with `skip_invalid`. `stream` is told which lines were invalid; `keys`
    collects the tasks' hashes."""
    scratch = _scratch()
    scratch.skip_invalid = skip_invalid
    with path.open("rb") as file:
        if kind == "csv":
            count = 0
            for task in _read_csv(file, str(path), scratch):
                count += 1
                if keys is not None:
                    keys.add(task)
            return count
        bad: set[int] = set()
        count = _check_lines(file, str(path), kind, skip_invalid, bad, keys)
    if stream is not None and len(bad) <= MAX_BAD_LINES_KEPT:
        stream.bad_lines = bad
    return count


def _check_lines(
    file: Any,
    where: str,
    kind: str,
    skip_invalid: bool,
    bad: set[int] | None = None,
    keys: KeyCounter | None = None,
) -> int:
    """The lines `_read_lines` would yield tasks for, counted; the invalid ones skipped with
    `skip_invalid` are added to `bad`, the hashes of the others to `keys`. A line is checked
    first with orjson, several times faster than the standard library; only a line it refuses
    goes to the parser the tasks are read with, which has the last word and words the error."""
    count = 0
    fast = kind == "jsonl" and _orjson_loads is not None
    for lineno, raw in _raw_lines(file, where):
        try:
            if fast and type(raw) is bytes:
                quick = _quick_json_line(raw)
                if quick is not None:
                    _check_shape(quick, where, lineno)
                    count += 1
                    if keys is not None:
                        keys.add(quick)
                    continue
            if isinstance(raw, SourceError):
                raise raw
            text = _decode(raw, where, lineno)
            if not text.strip():
                continue
            task = (
                _parse_json_line(text, where, lineno) if kind == "jsonl" else {"text": text.strip()}
            )
            if kind == "jsonl":
                _check_shape(task, where, lineno)
        except SourceError:
            if not skip_invalid:
                raise
            if bad is not None and len(bad) <= MAX_BAD_LINES_KEPT:
                bad.add(lineno)
            continue
        count += 1
        if keys is not None:
            keys.add(task)
    return count


def _scratch() -> Stream:
    """A throwaway stream for the counters, which need its bookkeeping but no tasks."""
    return Stream(lambda: iter(()))
