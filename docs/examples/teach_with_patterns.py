"""Example recipe: a text classifier and a pattern matcher in the loop together.

rr run -F docs/examples/teach_with_patterns.py topics.teach DATASET SOURCE PATTERNS -l TECH
"""

from __future__ import annotations

from typing import Any

from recipe_runner import (
    Arg,
    PatternMatcher,
    TextClassifier,
    combine_models,
    get_stream,
    load_pipeline,
    prefer_uncertain,
    recipe,
    split_string,
)


@recipe(
    "topics.teach",
    dataset=Arg(help="Dataset to save the answers to"),
    source=Arg(help="JSONL file of texts"),
    patterns=Arg(help="JSONL patterns: {'label': ..., 'pattern': ...}"),
    label=Arg("--label", "-l", help="Comma-separated labels", converter=split_string),
    spacy_model=Arg("--spacy-model", help="blank:LANG, a package or a path"),
)
def topics_teach(
    dataset: str,
    source: str,
    patterns: str,
    label: list[str] | None = None,
    spacy_model: str = "blank:en",
) -> dict[str, Any]:
    """Accept or reject labels suggested by a classifier and by patterns."""
    labels = label or []
    nlp = load_pipeline(spacy_model)
    model = TextClassifier(nlp, labels)  # adds a new classifier if it has none
    matcher = PatternMatcher(nlp, label_span=False, label_task=True).from_disk(patterns)
    predict, update = combine_models(model, matcher)  # both suggest, both learn
    return {
        "dataset": dataset,
        "stream": prefer_uncertain(predict(get_stream(source))),  # scores near 0.5 first
        "view_id": "classification",
        "update": update,  # the classifier's loss plus the patterns'
        "config": {"labels": labels},
    }
