"""`prodigy.components.sorters`: serve `(score, task)` pairs in the order that helps most."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from recipe_runner import prefer_high_scores, prefer_low_scores, prefer_uncertain

__all__ = ["Probability", "prefer_high_scores", "prefer_low_scores", "prefer_uncertain"]


class Probability:
    """Prodigy's `Probability(stream)`: each `(score, task)` is served at once with a
    probability equal to its score. Where Prodigy drops the tasks it passes over, these are
    held back (a bounded buffer, as the other sorters do) and served, best first, when the
    stream ends."""

    def __init__(self, stream: Iterable[tuple[float, dict[str, Any]]], seed: int | None = None):
        self._tasks = iter(prefer_high_scores(stream, "probability", seed=seed))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._tasks)
