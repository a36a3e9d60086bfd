"""Moving answers in and out: db-out, db-in and the counts `rr stats` prints."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config import load_config
from .db import ANSWERS, Database, check_name, connect, dump_json
from .errors import AnswerError, SourceError
from .hashing import INPUT_HASH, INPUT_KEYS, TASK_HASH, input_hash, set_hashes
from .loaders import Stream, get_stream
from .task_shape import task_problem
from .views import REQUIRED_INPUT


def _open_db() -> Database:
    return connect(load_config())


def export_answers(dataset: str, path: Path | None) -> int:
    """Write a dataset's answers as JSONL to `path` (atomically) or stdout; how many."""
    db = _open_db()
    try:
        db.require_dataset(dataset)
        if path is None:
            count = 0
            for answer in db.iter_answers(dataset):
                sys.stdout.write(dump_json(_as_exported(answer)) + "\n")
                count += 1
            sys.stdout.flush()
            return count
        target = Path(path)
        if not target.parent.exists():
            raise SourceError(
                f"Can't write '{target}': the folder '{target.parent}' doesn't exist."
            )
        if target.is_dir():
            raise SourceError(f"Can't write '{target}': it is a folder. Give a file name.")
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as err:
            raise SourceError(f"Can't write '{target}': {err.strerror or err}.") from None
        count = 0
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for answer in db.iter_answers(dataset):
                    out.write(dump_json(_as_exported(answer)) + "\n")
                    count += 1
            os.replace(tmp, target)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise SourceError(f"Can't write '{target}': {err.strerror or err}.") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return count
    finally:
        db.close()


# The hashes an imported answer came with, when they are not rr's own (Prodigy's, for one).
# An import stores rr's hashes of the content in their place, so that a recipe over the same
# texts finds them answered: rr computes its hashes from content the same way everywhere, and
# deduplication, claims and the database's unique key all compare that one pair. Matching on
# both pairs instead would put a second look-up on every batch served. `db-out` gives the
# original hashes back, so a file goes out as it came in. An answer whose input hash is rr's
# own (an export of rr's) keeps its hashes: they are what rr serves.
SOURCE_HASHES = "_source_hashes"


# What the API gives a session: "DATASET-NAME", each part a name as `check_name` allows.
SESSION_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,200}$")


def check_session_id(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not SESSION_ID.match(value):
        raise AnswerError(
            f"An answer's '_session_id' {value!r} is not a session id: use letters, digits, "
            "'_', '.' and '-' (as DATASET-NAME), or null."
        )


def _answers_from(path: Path, default_answer: str) -> Iterator[dict[str, Any]]:
    """The answers of a JSONL file, each checked by the rules of the API, with rr's hashes."""
    stream = get_stream(path, loader="jsonl")
    for task in _lines_of(stream):
        task.setdefault("answer", default_answer)
        try:
            check_imported(task)
        except AnswerError as err:
            where = stream.location()
            raise SourceError(f"{where}: {err} Fix the line; nothing was imported.") from None
        yield _rehash(task)


def check_imported(answer: dict[str, Any]) -> None:
    """An imported answer meets the rules of one the API takes (task_shape's, a verdict, an
    input key, a session id): an AnswerError saying which it breaks."""
    verdict = answer.get("answer")
    if verdict not in ANSWERS:
        raise AnswerError(f"Its 'answer' must be accept, reject or ignore, not {verdict!r}.")
    view = answer.get("_view_id")
    # The input keys its view needs (none for an html view, which may fill a template from any
    # key); any input key when the view is not known.
    needs = () if view == "html" else REQUIRED_INPUT.get(view, INPUT_KEYS)  # type: ignore[arg-type]
    if needs and answer.keys().isdisjoint(needs):
        keys = " or ".join(f"'{k}'" for k in needs)
        who = f"its view {view!r}" if view in REQUIRED_INPUT else "an answer"
        raise AnswerError(f"It has no {keys}, which {who} needs.")
    problem = task_problem(answer)
    if problem:
        raise AnswerError(f"It is refused: {problem}.")
    check_session_id(answer.get("_session_id"))


def _lines_of(stream: Stream) -> Iterator[dict[str, Any]]:
    """The stream's tasks; a bad line's error without the loader's --skip-invalid hint: an
    import is all or nothing, and has no such option."""
    tasks = iter(stream)
    while True:
        try:
            task = next(tasks)
        except StopIteration:
            return
        except SourceError as err:
            told = str(err).replace(SKIP_HINT, "; nothing was imported.")
            raise SourceError(told) from None
        yield task


SKIP_HINT = ", or pass --skip-invalid to skip such lines."


def _rehash(task: dict[str, Any]) -> dict[str, Any]:
    if task.get(INPUT_HASH) == input_hash(task):
        # rr's own hashes (an export of rr's): kept as they are. Its task hash can differ from
        # the content's on purpose: an answer keeps the hash of the task as it was served,
        # before the annotator added spans, so that the task counts as answered.
        return set_hashes(task)
    given = {key: task[key] for key in (INPUT_HASH, TASK_HASH) if key in task}
    set_hashes(task, overwrite=True)
    foreign = {key: value for key, value in given.items() if task[key] != value}
    if foreign:
        task[SOURCE_HASHES] = foreign
    return task


def _as_exported(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with the hashes it was imported with, where it had its own."""
    foreign = answer.pop(SOURCE_HASHES, None)
    if isinstance(foreign, dict):
        for key in (INPUT_HASH, TASK_HASH):
            if key in foreign:
                answer[key] = foreign[key]
    return answer


def import_answers(dataset: str, path: Path, default_answer: str = "accept") -> tuple[int, int]:
    """Import a JSONL file of answers, committed in chunks: (answers read, answers new)."""
    check_name(dataset)
    if default_answer not in ANSWERS:
        raise SourceError(f"--answer must be accept, reject or ignore, not {default_answer!r}.")
    # First pass: every line must parse, so that a bad line saves nothing at all.
    read = sum(1 for _ in _answers_from(path, default_answer))
    db = _open_db()
    try:
        added = db.import_answers(dataset, _answers_from(path, default_answer))
    finally:
        db.close()
    return read, added


def dataset_stats(dataset: str | None) -> dict[str, Any] | list[dict[str, Any]]:
    """Counts of one dataset (as contract section 1 says), or a list of every dataset's."""
    db = _open_db()
    try:
        if dataset is not None:
            db.require_dataset(dataset)
            return _one(db, dataset, team=True)
        return [_one(db, name) for name in db.dataset_names()]
    finally:
        db.close()


def _one(db: Database, dataset: str, team: bool = False) -> dict[str, Any]:
    sessions: dict[str, dict[str, Any]] = {}
    totals = dict.fromkeys((*ANSWERS, "total"), 0)
    for session, counts in sorted(db.counts(dataset).items()):
        row: dict[str, Any] = {k: counts.get(k, 0) for k in ANSWERS}
        row["total"] = sum(row.values())
        sessions[session] = row
        for key in totals:
            totals[key] += row[key]
    if team:
        _add_team_figures(db, dataset, sessions)
    out: dict[str, Any] = {"dataset": dataset, **totals, "sessions": sessions}
    forecast = db.forecast(dataset)
    if forecast is not None:  # only a model in the loop makes one
        out["forecast"] = forecast
    return out


def _add_team_figures(db: Database, dataset: str, sessions: dict[str, dict[str, Any]]) -> None:
    """Each session's pace and its agreement with the others, read from its answers."""
    from .agreement import session_agreement, session_pace

    times: dict[str, list[float]] = {}
    answers = []
    for answer in db.iter_answers(dataset):
        answers.append(answer)
        stamp = answer.get("_timestamp")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            times.setdefault(str(answer.get("_session_id") or ""), []).append(float(stamp))
    agreeing = session_agreement(answers)
    for session, row in sessions.items():
        rate, median = session_pace(times.get(session, []))
        row["answers_per_hour"] = None if rate is None else round(rate, 1)
        row["median_seconds"] = None if median is None else round(median, 2)
        row["agreement"] = agreeing.get(session)


def dataset_iaa(dataset: str, kind: str, labels: list[str] | None = None) -> dict[str, Any]:
    """`rr metric iaa KIND DATASET`: agreement between the sessions of a dataset."""
    from .agreement import iaa

    db = _open_db()
    try:
        db.require_dataset(dataset)
        return {"dataset": dataset, **iaa(kind, db.iter_answers(dataset), labels)}
    finally:
        db.close()


def merge_datasets(inputs: list[str], output: str, rehash: bool = False) -> tuple[int, int]:
    """`rr db-merge`: copy the answers of `inputs` into `output` in one transaction (all or
    nothing); with `rehash`, hashes are computed again from each answer. (answers read, new)."""
    check_name(output)
    if not inputs:
        raise SourceError("Name the datasets to merge: rr db-merge IN1,IN2 OUT.")
    if output in inputs:
        raise SourceError(f"'{output}' is one of the datasets merged: write to a new dataset.")
    db = _open_db()
    try:
        for name in inputs:
            db.require_dataset(name)
        read = 0

        def answers() -> Iterator[dict[str, Any]]:
            nonlocal read
            for name in inputs:
                for answer in db.iter_answers(name):
                    read += 1
                    yield set_hashes(answer, overwrite=True) if rehash else answer

        added = db.import_answers(output, answers())
    finally:
        db.close()
    return read, added
