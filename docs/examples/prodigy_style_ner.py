"""Example recipe written as a Prodigy recipe is: only its imports name recipe-runner's
compatibility layer. Entities pre-marked by patterns, to be corrected by hand.

    rr run -F docs/examples/prodigy_style_ner.py ner.patterns DATASET MODEL SOURCE -l A,B -p FILE
"""

import spacy

from recipe_runner.compat import prodigy
from recipe_runner.compat.prodigy.components.loaders import JSONL
from recipe_runner.compat.prodigy.components.preprocess import add_tokens
from recipe_runner.compat.prodigy.models.matcher import PatternMatcher
from recipe_runner.compat.prodigy.util import split_string


@prodigy.recipe(
    "ner.patterns",
    dataset=("Dataset to save the answers to", "positional", None, str),
    spacy_model=("A saved pipeline (a path) or a package", "positional", None, str),
    source=("JSONL file of texts", "positional", None, str),
    label=("Comma-separated labels", "option", "l", split_string),
    patterns=("JSONL patterns", "option", "p", str),
)
def ner_patterns(
    dataset: str,
    spacy_model: str,
    source: str,
    label: list[str] | None = None,
    patterns: str | None = None,
):
    """Correct the entities that patterns found."""
    nlp = spacy.load(spacy_model)
    stream = JSONL(source)
    if patterns is not None:
        matcher = PatternMatcher(nlp, combine_matches=True, all_examples=True)
        stream = (task for _, task in matcher.from_disk(patterns)(stream))
    return {
        "dataset": dataset,
        "stream": add_tokens(nlp, stream),
        "view_id": "ner_manual",
        "config": {"labels": label},
    }
