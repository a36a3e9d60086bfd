"""`prodigy.models.ner`: `EntityRecognizer(nlp, label=...)`, with `make_best`."""

from __future__ import annotations

from recipe_runner import EntityRecognizer

__all__ = ["EntityRecognizer"]
