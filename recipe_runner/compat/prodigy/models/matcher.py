"""`prodigy.models.matcher`: `PatternMatcher(nlp, ...).from_disk(path)`."""

from __future__ import annotations

from recipe_runner import PatternMatcher

__all__ = ["PatternMatcher"]
