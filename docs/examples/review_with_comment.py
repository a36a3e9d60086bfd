"""Example recipe: one card of blocks, a choice and a free-text comment, and a template.

rr run -F docs/examples/review_with_comment.py headline.review DATASET SOURCE -o OK,UNCLEAR
"""

from __future__ import annotations

from typing import Any

from recipe_runner import add_label_options, get_stream, recipe, split_string

# The task's keys, escaped, fill the template: {{text}} and {{meta.source}}.
TEMPLATE = "<h3>{{text}}</h3><p>From <em>{{meta.source}}</em></p>"


@recipe(
    "headline.review",
    dataset=("Dataset to save the answers to", "positional", None, str),
    source=("JSONL file of headlines with meta.source", "positional", None, str),
    options=("Comma-separated verdicts", "option", "o", split_string),
)
def headline_review(dataset: str, source: str, options: list[str]) -> dict[str, Any]:
    """Give each headline a verdict, and say why in a comment."""
    blocks = [
        {"view_id": "html", "html_template": TEMPLATE},  # the headline, through the template
        {"view_id": "choice", "text": None},  # the verdicts, without the text a second time
        {"view_id": "text_input", "field_id": "comment", "field_label": "Why?"},
    ]
    return {
        "dataset": dataset,
        "stream": add_label_options(get_stream(source), options),
        "view_id": "blocks",
        "config": {"blocks": blocks, "choice_style": "single"},
    }
