"""`prodigy.models.textcat`: `TextClassifier(nlp, labels, pipe_name)`."""

from __future__ import annotations

from typing import Any

from recipe_runner import TextClassifier

__all__ = ["TextClassifier", "infer_exclusive"]


def infer_exclusive(nlp: Any, component: str) -> bool:
    """Whether the pipeline's classifier `component` gives each text one label (`textcat`)."""
    if component not in nlp.pipe_names:
        return False
    return bool(nlp.get_pipe_meta(component).factory == "textcat")
