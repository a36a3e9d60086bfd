"""`prodigy.components.sorters`: serve `(score, task)` pairs in the order that helps most."""

from __future__ import annotations

from recipe_runner import prefer_high_scores, prefer_low_scores, prefer_uncertain

__all__ = ["prefer_high_scores", "prefer_low_scores", "prefer_uncertain"]
