"""Example recipe: from binary answers about entities ("silver") to whole texts to correct
("gold"). The entity recognizer merges each text's accepted and rejected spans with its own
predictions into one analysis.

    rr run -F docs/examples/silver_to_gold.py entities.gold SILVER GOLD MODEL [-l A,B]
"""

from __future__ import annotations

from typing import Any

from recipe_runner import (
    DatasetError,
    EntityRecognizer,
    add_tokens,
    connect,
    load_pipeline,
    recipe,
    split_string,
)


@recipe(
    "entities.gold",
    silver=("Dataset of accept / reject answers about single entities", "positional", None, str),
    gold=("Dataset to save the corrected texts to", "positional", None, str),
    spacy_model=("A pipeline with an entity recognizer (a package or a path)", "positional"),
    label=(
        "Comma-separated labels (all of the model's when left out)",
        "option",
        "l",
        split_string,
    ),
)
def entities_gold(
    silver: str, gold: str, spacy_model: str, label: list[str] | None = None
) -> dict[str, Any]:
    """Correct whole texts, starting from what the binary answers allow."""
    with connect() as db:
        if silver not in db:
            raise DatasetError(f"Can't find the silver dataset '{silver}'. Run 'rr stats'.")
        answers = db.get_dataset(silver)
    nlp = load_pipeline(spacy_model)
    labels = label or sorted(nlp.get_pipe("ner").labels)
    model = EntityRecognizer(nlp, label=labels, add=False)
    return {
        "dataset": gold,
        "stream": add_tokens(nlp, model.make_best(answers)),  # one task per text, to correct
        "view_id": "ner_manual",
        "config": {"labels": labels},
    }
