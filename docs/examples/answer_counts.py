"""Example recipe: callbacks and the database. `on_load` reads the answers already in the
dataset through `ctrl.db`, `update` counts new ones, `on_exit` prints the totals.

    rr run -F docs/examples/answer_counts.py counts.mark DATASET SOURCE
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from recipe_runner import JSONL, recipe


@recipe("counts.mark")
def counts_mark(dataset: str, source: str) -> dict[str, Any]:
    """Accept or reject texts; the counts of this dataset, old and new, are printed at the end."""
    counts: Counter[str] = Counter()

    def on_load(ctrl: Any) -> None:
        if dataset in ctrl.db:  # the dataset exists once the run has started, maybe empty
            counts.update(answer["answer"] for answer in ctrl.db.get_dataset(dataset))

    def update(answers: list[dict[str, Any]]) -> None:
        counts.update(answer["answer"] for answer in answers)

    def on_exit(ctrl: Any) -> None:
        print(", ".join(f"{key}: {counts[key]}" for key in ("accept", "reject", "ignore")))

    return {
        "dataset": dataset,
        "stream": JSONL(source),
        "view_id": "text",
        "on_load": on_load,
        "update": update,
        "on_exit": on_exit,
    }
