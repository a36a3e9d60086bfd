"""`rr relabel`: rename or merge labels in a stored dataset, in one transaction, keeping each
changed answer's old values in its `_history`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .db import Database
from .errors import RecipeRunnerError, UsageError
from .hashing import INPUT_HASH, TASK_HASH, task_hash

CHANGED_KEYS = ("label", "spans", "options", "accept", TASK_HASH)
HISTORY = "_history"


def parse_rename(value: str) -> dict[str, str]:
    """`OLD=NEW` -> {OLD: NEW}."""
    old, sep, new = value.partition("=")
    if not sep or not old.strip() or not new.strip() or "," in old:
        raise UsageError(f"--rename takes OLD=NEW, not '{value}'.")
    return {old.strip(): new.strip()}


def parse_merge(value: str) -> dict[str, str]:
    """`A,B=C` -> {A: C, B: C}."""
    olds, sep, new = value.partition("=")
    names = [n.strip() for n in olds.split(",") if n.strip()]
    if not sep or not names or not new.strip():
        raise UsageError(f"--merge takes A,B=C, not '{value}'.")
    return {name: new.strip() for name in names}


@dataclass
class RelabelPlan:
    """What a relabel changes: per label renamed, the answers touched."""

    mapping: dict[str, str]
    changed: int = 0
    per_label: dict[str, int] = field(default_factory=dict)
    # Answers of one session that become the same task: the later one is kept, the earlier
    # is folded into its history.
    folded: int = 0
    remove: list[int] = field(default_factory=list)
    keep: list[dict[str, Any]] = field(default_factory=list)
    examples: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def lines(self, dataset: str) -> list[str]:
        out = [f"{dataset}: {self.changed} answers change"]
        for old, count in sorted(self.per_label.items()):
            out.append(f"  {old} -> {self.mapping[old]}: {count} answers")
        if self.folded:
            out.append(
                f"  {self.folded} answers become a duplicate of the same session's later answer "
                "to the same task: the later is kept, the earlier goes into its _history"
            )
        return out


def _rename(value: Any, mapping: Mapping[str, str]) -> Any:
    return mapping.get(value, value) if isinstance(value, str) else value


def relabel_answer(
    answer: dict[str, Any], mapping: Mapping[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """The answer with its labels renamed, and the old labels it had."""
    seen: set[str] = set()
    new = dict(answer)

    def swap(value: Any) -> Any:
        if isinstance(value, str) and value in mapping:
            seen.add(value)
        return _rename(value, mapping)

    if "label" in answer:
        new["label"] = swap(answer["label"])
    if isinstance(answer.get("spans"), list):
        new["spans"] = [
            {**s, "label": swap(s.get("label"))} if isinstance(s, dict) else s
            for s in answer["spans"]
        ]
    if isinstance(answer.get("options"), list):
        options: list[Any] = []
        ids: set[Any] = set()
        for option in answer["options"]:
            if isinstance(option, dict) and "id" in option:
                renamed = swap(option["id"])
                if renamed in ids:
                    continue  # two options merged into one
                ids.add(renamed)
                # An option shown as its id ({"id": "A", "text": "A"}) is shown as the new one.
                text = renamed if option.get("text") == option["id"] else option.get("text")
                option = {**option, "id": renamed, "text": text}
            options.append(option)
        new["options"] = options
    if isinstance(answer.get("accept"), list):
        accepted: list[Any] = []
        for choice in answer["accept"]:
            renamed = swap(choice)
            if renamed not in accepted:
                accepted.append(renamed)
        new["accept"] = accepted
    return new, seen


def plan_relabel(rows: list[tuple[int, dict[str, Any]]], mapping: dict[str, str]) -> RelabelPlan:
    """The changes `mapping` makes to the rows (row id, answer) of a dataset."""
    plan = RelabelPlan(mapping)
    now = time.time()
    change = ", ".join(f"{old}={new}" for old, new in mapping.items())
    # (session, task hash after the change) -> [(row id, answer after, changed?)]
    groups: dict[tuple[str, Any], list[tuple[int, dict[str, Any], bool]]] = {}
    for row_id, answer in rows:
        new, seen = relabel_answer(answer, mapping)
        if seen:
            # A task hash computed from the answer's label, spans and options is computed
            # again; one that came with the task served (a manual answer's) stays as it is.
            old_hash = answer.get(TASK_HASH)
            if isinstance(old_hash, int) and old_hash == task_hash(answer, answer[INPUT_HASH]):
                new[TASK_HASH] = task_hash(new, new[INPUT_HASH])
            before = {k: answer[k] for k in CHANGED_KEYS if k in answer and answer[k] != new[k]}
            new[HISTORY] = [*answer.get(HISTORY, []), {"time": now, "relabel": change, **before}]
            plan.changed += 1
            for old in seen:
                plan.per_label[old] = plan.per_label.get(old, 0) + 1
            if len(plan.examples) < 3:
                plan.examples.append((answer, new))
        key = (str(answer.get("_session_id") or ""), new.get(TASK_HASH))
        groups.setdefault(key, []).append((row_id, new if seen else answer, bool(seen)))
    by_id = dict(rows)
    for group in groups.values():
        if not any(changed for _, _, changed in group):
            continue
        # One session's answers that are now the same task: the last saved is kept, the
        # others go into its history.
        *earlier, (_, last, _) = group
        if earlier:
            last = {**last, HISTORY: list(last.get(HISTORY, []))}
            for row_id, _, _ in earlier:
                last[HISTORY].append({"time": now, "folded": by_id[row_id]})
            plan.folded += len(earlier)
        plan.remove += [row_id for row_id, _, _ in group]
        plan.keep.append(last)
    return plan


def relabel(
    db: Database,
    dataset: str,
    mapping: dict[str, str],
    *,
    dry_run: bool = False,
    requeue: bool = False,
) -> RelabelPlan:
    """Rename labels (`mapping` old -> new) in every answer of `dataset`, in one transaction.
    With `requeue`, the changed answers move to dataset `DATASET.requeue` instead: their tasks
    count as unanswered in DATASET again, and `dataset:DATASET.requeue` serves them, relabelled,
    for a second look."""
    if not mapping:
        raise UsageError("Say what to change: --rename OLD=NEW or --merge A,B=C.")
    for old, new in mapping.items():
        if old == new:
            raise UsageError(f"'{old}' would be renamed to itself.")
    plan = plan_relabel(db.answer_rows(dataset), mapping)
    if plan.changed == 0:
        known = ", ".join(sorted(mapping))
        raise RecipeRunnerError(f"No answer of '{dataset}' has the label {known}: nothing to do.")
    if not dry_run:
        target = requeue_name(dataset) if requeue else dataset
        db.rewrite_answers(plan.remove, {target: plan.keep})
    return plan


def requeue_name(dataset: str) -> str:
    return f"{dataset}.requeue"
