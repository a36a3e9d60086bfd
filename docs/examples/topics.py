"""Example recipe: pick the topics of a headline among options, with Prodigy-style argument
annotations and a validate_answer callback.

    rr run -F docs/examples/topics.py topics.choice DATASET SOURCE -o TECH,POLITICS [-M]
"""

from __future__ import annotations

from typing import Any

from recipe_runner import add_label_options, get_stream, recipe, split_string


@recipe(
    "topics.choice",
    dataset=("Dataset to save the answers to", "positional", None, str),
    source=("JSONL file of texts", "positional", None, str),
    options=("Comma-separated topics", "option", "o", split_string),
    multiple=("Allow several topics per text", "flag", "M", bool),
)
def topics_choice(
    dataset: str, source: str, options: list[str], multiple: bool = False
) -> dict[str, Any]:
    """Choose the topics of each text."""

    def validate_answer(answer: dict[str, Any]) -> None:
        # An accepted text needs a topic: the annotator sees this message and can fix it.
        if answer["answer"] == "accept" and not answer.get("accept"):
            raise ValueError("Pick at least one topic, or skip the text.")

    return {
        "dataset": dataset,  # where the answers go
        "stream": add_label_options(get_stream(source), options),  # the options on every task
        "view_id": "choice",  # the text with the options to choose from
        "validate_answer": validate_answer,  # refuses an accepted text without a topic
        "config": {"choice_style": "multiple" if multiple else "single"},
    }
