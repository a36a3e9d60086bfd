"""The `review` recipe: one task per input over the answers of several datasets, showing every
version the annotators gave with the sessions that gave it, for a reviewer to adjudicate."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from recipe_runner import RecipeRunnerError, connect, recipe

# What an answer adds to its task, and is no part of a version's content.
ANSWER_ONLY = ("_session_id", "_timestamp", "_view_id", "_annotator_id", "_history", "versions")
# The keys an annotator changes: what makes two versions differ, with the answer.
ANNOTATION_KEYS = ("label", "spans", "accept")
REVIEWED_VIEWS = ("classification", "choice", "ner_manual", "spans_manual", "text", "ner", "html")


def version_key(answer: dict[str, Any]) -> str:
    """Two answers are the same version when they give the same answer, label, choices and
    spans (by start, end and label)."""
    spans = sorted(
        (s.get("start"), s.get("end"), str(s.get("label")))
        for s in answer.get("spans") or []
        if isinstance(s, dict)
    )
    accept = sorted(str(a) for a in answer.get("accept") or [])
    return json.dumps([answer.get("answer"), answer.get("label"), accept, spans], default=str)


def group_versions(answers: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Input hash -> its versions, each the version's task keys with its `answer` and
    `sessions`, most sessions first (ties in the order first given). `ignore` answers are
    left out; a session counts once per version."""
    grouped: dict[int, dict[str, dict[str, Any]]] = {}
    for answer in answers:
        if answer.get("answer") not in ("accept", "reject"):
            continue
        versions = grouped.setdefault(answer["_input_hash"], {})
        key = version_key(answer)
        version = versions.get(key)
        if version is None:
            version = {k: v for k, v in answer.items() if k not in ANSWER_ONLY}
            version["sessions"] = []
            versions[key] = version
        session = str(answer.get("_session_id") or "")
        if session not in version["sessions"]:
            version["sessions"].append(session)
    return {
        item: sorted(versions.values(), key=lambda v: -len(v["sessions"]))
        for item, versions in grouped.items()
    }


def review_task(versions: list[dict[str, Any]], view_id: str) -> dict[str, Any]:
    """The task a reviewer sees: the input, pre-filled with the version most sessions gave,
    with every version under `versions`."""
    top = json.loads(json.dumps(versions[0]))
    task = {k: v for k, v in top.items() if k not in ("answer", "sessions")}
    task["versions"] = versions
    task["review_view_id"] = view_id
    return task


def unanimous(versions: list[dict[str, Any]]) -> bool:
    """One version only, given by at least two sessions: nothing for a reviewer to decide."""
    return len(versions) == 1 and len(versions[0]["sessions"]) >= 2


def _view_of(answers: list[dict[str, Any]], asked: str | None) -> str:
    if asked:
        if asked not in REVIEWED_VIEWS:
            raise RecipeRunnerError(
                f"review: --view-id '{asked}' can't be reviewed; use one of "
                f"{', '.join(REVIEWED_VIEWS)}."
            )
        return asked
    seen: dict[str, int] = {}
    for answer in answers:
        view = answer.get("_view_id")
        if not (isinstance(view, str) and view in REVIEWED_VIEWS):
            view = _guess_view(answer)
        seen[view] = seen.get(view, 0) + 1
    return max(seen, key=lambda v: seen[v]) if seen else "text"


def _guess_view(answer: dict[str, Any]) -> str:
    """The view an answer without `_view_id` (e.g. imported) was most likely made in."""
    if isinstance(answer.get("options"), list):
        return "choice"
    if "tokens" in answer:
        return "ner_manual"
    if isinstance(answer.get("label"), str):
        return "classification"
    return "html" if "html" in answer and "text" not in answer else "text"


@recipe("review")
def review(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the reviewed answers to.")],
    in_sets: Annotated[
        str, typer.Argument(help="Datasets whose answers to review, comma-separated.")
    ],
    label: Annotated[
        list[str] | None, typer.Option(help="Labels the reviewer can use, e.g. A,B.")
    ] = None,
    view_id: Annotated[
        str | None, typer.Option(help="The view of the versions; by their answers when left out.")
    ] = None,
    auto_accept: Annotated[
        bool,
        typer.Option(help="Save without asking where at least 2 sessions gave one same version."),
    ] = False,
) -> dict[str, Any]:
    """Review the answers of several annotators: accept one version, edit it, or reject."""
    names = [n.strip() for n in in_sets.split(",") if n.strip()]
    if not names:
        raise RecipeRunnerError("review: name the datasets to review, e.g. ann_a,ann_b.")
    if dataset in names:
        raise RecipeRunnerError(f"review: '{dataset}' is reviewed; save the review elsewhere.")
    db = connect()
    try:
        answers = [a for name in names for a in db.get_dataset(name)]
    finally:
        db.close()
    view = _view_of(answers, view_id)
    grouped = group_versions(answers)
    tasks = [review_task(versions, view) for versions in grouped.values()]
    auto = [t for t in tasks if auto_accept and unanimous(t["versions"])]
    asked = [t for t in tasks if not (auto_accept and unanimous(t["versions"]))]
    labels = label or sorted(
        {str(a["label"]) for a in answers if isinstance(a.get("label"), str)}
        | {
            str(s.get("label"))
            for a in answers
            for s in a.get("spans") or []
            if isinstance(s, dict) and s.get("label")
        }
    )

    def save_unanimous(ctrl: Any) -> None:
        # Saved when the run starts, under a session of their own, like any answer.
        if auto:
            answered = [
                {**t, "answer": t["versions"][0]["answer"], "_session_id": f"{dataset}-auto"}
                for t in auto
            ]
            ctrl.db.add_examples(answered, datasets=[dataset])

    def stream() -> Iterator[dict[str, Any]]:
        yield from (json.loads(json.dumps(t)) for t in asked)

    return {
        "dataset": dataset,
        "stream": _Sized(stream, len(asked)),
        "view_id": "review",
        "on_load": save_unanimous,
        # One review per input, whatever the reviewer makes of it.
        "config": {"labels": labels or None, "exclude_by": "input"},
    }


class _Sized:
    """A stream that can be read again, with its length known (for progress)."""

    def __init__(self, factory: Any, length: int) -> None:
        self.factory = factory
        self.length = length

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.factory()

    def __len__(self) -> int:
        return self.length
