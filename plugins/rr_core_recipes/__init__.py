"""The built-in recipes that need no model: mark, textcat.manual, ner.manual and review."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from recipe_runner import RecipeRunnerError, get_stream, hookimpl, recipe

Label = Annotated[list[str] | None, typer.Option(help="Comma-separated labels, e.g. A,B.")]
Loader = Annotated[
    str | None, typer.Option(help="jsonl, json, csv or txt; by suffix when left out.")
]
SkipInvalid = Annotated[
    bool, typer.Option(help="Skip malformed lines (counted) instead of stopping.")
]


@recipe("mark")
def mark(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the answers to.")],
    source: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")],
    view_id: Annotated[str, typer.Option(help="The view to show the tasks in.")] = "text",
    label: Label = None,
    loader: Loader = None,
    skip_invalid: SkipInvalid = False,
) -> dict[str, Any]:
    """Show tasks as they are and collect accept / reject / ignore answers."""
    stream = get_stream(source, loader, skip_invalid=skip_invalid)
    if label:
        first = label[0]
        stream = stream.map(lambda task: {**task, "label": task.get("label", first)})
    return {
        "dataset": dataset,  # where answers go
        "stream": stream,  # the tasks, read lazily; knows its length
        "view_id": view_id,  # how the web view shows each task
        "config": {"labels": label} if label else {},
    }


@recipe("textcat.manual")
def textcat_manual(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the answers to.")],
    source: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")],
    label: Label = None,
    exclusive: Annotated[
        bool, typer.Option(help="With several labels: one choice per text.")
    ] = False,
    loader: Loader = None,
    skip_invalid: SkipInvalid = False,
) -> dict[str, Any]:
    """Label texts by hand: accept/reject for one label, a choice among several."""
    if not label:
        raise RecipeRunnerError("textcat.manual needs --label, e.g. --label POLITICS,SPORTS.")
    stream = get_stream(source, loader, skip_invalid=skip_invalid)
    if len(label) == 1:
        only = label[0]
        stream = stream.map(lambda task: {**task, "label": only})
        view_id = "classification"
    else:
        options = [{"id": name, "text": name} for name in label]
        stream = stream.map(lambda task: {**task, "options": options})
        view_id = "choice"
    return {
        "dataset": dataset,
        "stream": stream,
        "view_id": view_id,
        "config": {"labels": label, "choice_style": "single" if exclusive else "multiple"},
    }


@recipe("ner.manual")
def ner_manual(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the answers to.")],
    spacy_model: Annotated[str, typer.Argument(help="Tokenizer: blank:LANG, a package or a path.")],
    source: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")],
    label: Label = None,
    loader: Loader = None,
    skip_invalid: SkipInvalid = False,
    patterns: Annotated[
        str | None,
        typer.Option(help="JSONL patterns whose matches come pre-marked (label, pattern)."),
    ] = None,
) -> dict[str, Any]:
    """Mark entity spans by hand over the tokens of a spaCy tokenizer.

    With --patterns, what the patterns match comes pre-marked, to be corrected; texts without
    a match are shown too."""
    from recipe_runner import PatternMatcher, Stream, add_tokens, load_pipeline

    if not label:
        raise RecipeRunnerError("ner.manual needs --label, e.g. --label PERSON,ORG.")
    nlp = load_pipeline(spacy_model)
    stream: Stream = get_stream(source, loader, skip_invalid=skip_invalid)
    if patterns is not None:
        matcher = PatternMatcher(nlp, combine_matches=True, all_examples=True, filter_labels=label)
        matcher.from_disk(patterns)
        stream = stream.apply(lambda tasks: (task for _, task in matcher(tasks)))
    stream = add_tokens(nlp, stream)
    return {
        "dataset": dataset,
        "stream": stream,
        "view_id": "ner_manual",
        "config": {"labels": label},
    }


@hookimpl
def rr_register_recipes(registry: Any) -> None:
    from .review import review

    for func in (mark, textcat_manual, ner_manual, review):
        registry.add(func)
