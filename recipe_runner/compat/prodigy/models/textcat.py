"""`prodigy.models.textcat`: `TextClassifier(nlp, labels, pipe_name)`."""

from __future__ import annotations

from recipe_runner import TextClassifier

__all__ = ["TextClassifier"]
