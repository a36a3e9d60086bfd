"""rr-hello: an example recipe-runner plugin with two small recipes, found by its entry point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from recipe_runner import get_stream, hookimpl, recipe

__version__ = "0.1.0"

GREETINGS = ("hello", "hi", "hey", "good morning", "good evening", "greetings", "howdy")


def looks_like_greeting(text: str) -> bool:
    """True when the text starts with a common greeting word."""
    lowered = text.lower().lstrip()
    return any(lowered.startswith(g) for g in GREETINGS)


@recipe("hello.manual")
def hello_manual(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the answers to.")],
    source: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")],
    label: Annotated[str, typer.Option(help="The label to accept or reject.")] = "GREETING",
) -> dict[str, Any]:
    """Say yes or no to greetings."""
    stream = get_stream(source)
    # `map` keeps the source's length, so progress is a real percentage.
    stream = stream.map(lambda task: {**task, "label": label})
    return {
        "dataset": dataset,  # where the answers go
        "stream": stream,  # the tasks, read lazily
        "view_id": "classification",  # one label: accept or reject
        "config": {"labels": [label]},
    }


@recipe("hello.suggest")
def hello_suggest(
    dataset: Annotated[str, typer.Argument(help="Dataset to save the answers to.")],
    source: Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")],
    label: Annotated[str, typer.Option(help="The label suggested.")] = "GREETING",
    only_greetings: Annotated[
        bool, typer.Option(help="Show only the texts that look like greetings.")
    ] = False,
) -> dict[str, Any]:
    """Suggest the label where a text starts with a greeting, with a score for it."""

    def suggest(tasks: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            hit = looks_like_greeting(str(task.get("text", "")))
            if only_greetings and not hit:
                continue
            yield {**task, "label": label, "score": 0.9 if hit else 0.1}

    # A filtering generator drops tasks, so the stream's length is no longer known.
    stream = get_stream(source)
    return {
        "dataset": dataset,
        "stream": suggest(iter(stream)),
        "view_id": "classification",
        "config": {"labels": [label]},
    }


@hookimpl
def rr_register_recipes(registry: Any) -> None:
    """Register this package's recipes with recipe-runner."""
    registry.add(hello_manual)
    registry.add(hello_suggest)
