"""Moving answers in and out: db-out, db-in and the counts `rr stats` prints."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .config import load_config
from .db import ANSWERS, Database, check_name, connect, dump_json
from .errors import SourceError
from .hashing import set_hashes
from .loaders import get_stream


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
                sys.stdout.write(dump_json(answer) + "\n")
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
                    out.write(dump_json(answer) + "\n")
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


def _answers_from(path: Path, default_answer: str) -> Iterator[dict[str, Any]]:
    stream = get_stream(path, loader="jsonl")
    for task in stream:
        verdict = task.setdefault("answer", default_answer)
        if verdict not in ANSWERS:
            raise SourceError(
                f"{stream.location()}: answer {verdict!r}; it must be accept, reject or ignore."
            )
        yield set_hashes(task)


def import_answers(dataset: str, path: Path, default_answer: str = "accept") -> tuple[int, int]:
    """Import a JSONL file of answers in one transaction: (answers read, answers new)."""
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
            return _one(db, dataset)
        return [_one(db, name) for name in db.dataset_names()]
    finally:
        db.close()


def _one(db: Database, dataset: str) -> dict[str, Any]:
    sessions: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys((*ANSWERS, "total"), 0)
    for session, counts in sorted(db.counts(dataset).items()):
        row = {k: counts.get(k, 0) for k in ANSWERS}
        row["total"] = sum(row.values())
        sessions[session] = row
        for key, value in row.items():
            totals[key] += value
    out: dict[str, Any] = {"dataset": dataset, **totals, "sessions": sessions}
    forecast = db.forecast(dataset)
    if forecast is not None:  # only a model in the loop makes one
        out["forecast"] = forecast
    return out
