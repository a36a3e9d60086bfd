"""`dataset:NAME[:ANSWERS]` as a recipe's source: the tasks of a stored dataset's answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import SourceError

PREFIX = "dataset:"
ANSWERS = ("accept", "reject", "ignore")
# What an answer adds to its task; a task read back from a dataset leaves them out. The
# annotations (spans, accept) stay: a recipe shows them as pre-annotations.
ANSWER_KEYS = ("answer", "_session_id", "_view_id", "_timestamp", "_annotator_id")


def parse(source: str) -> tuple[str, tuple[str, ...]]:
    """`dataset:NAME` -> (NAME, every answer); `dataset:NAME:accept,reject` -> those only."""
    rest = source[len(PREFIX) :]
    name, _, picked = rest.partition(":")
    if not name:
        raise SourceError(
            f"'{source}': name the dataset, as in dataset:NAME or dataset:NAME:accept."
        )
    answers = tuple(a.strip() for a in picked.split(",") if a.strip()) if picked else ANSWERS
    wrong = [a for a in answers if a not in ANSWERS]
    if wrong:
        raise SourceError(
            f"'{source}': '{wrong[0]}' is not an answer; pick among accept, reject and ignore, "
            "as in dataset:NAME:accept."
        )
    return name, answers


def dataset_stream(source: str) -> Any:
    """A Stream of the tasks of the answers of a dataset, in the order saved, with the answer's
    own keys taken off. Each task comes once per answer: the controller serves a task hash
    once."""
    from .config import load_config
    from .db import connect
    from .loaders import Stream

    name, wanted = parse(source)
    db = connect(load_config())
    try:
        db.require_dataset(name)
        total = sum(counts.get(a, 0) for counts in db.counts(name).values() for a in wanted)
    finally:
        db.close()

    def factory() -> Iterator[dict[str, Any]]:
        db = connect(load_config())
        try:
            for answer in db.iter_answers(name):
                if answer.get("answer") in wanted:
                    yield {k: v for k, v in answer.items() if k not in ANSWER_KEYS}
        finally:
            db.close()

    return Stream(factory, lambda: total, source)
