"""The views a recipe can ask for: what each needs in a task, how `blocks` compose them, and
what a view adds to a task before it is answered (so that headless answers store the same keys
the page would)."""

from __future__ import annotations

from typing import Any

from .errors import RecipeError, closest

Task = dict[str, Any]

# The input keys a view cannot do without (any one of them); () when it needs none.
REQUIRED_INPUT: dict[str, tuple[str, ...]] = {
    "text": ("text", "html"),
    "classification": ("text", "html"),
    "choice": ("text", "html", "options"),
    "ner": ("text",),
    "ner_manual": ("text",),
    "spans": ("text",),  # read-only, as `ner`, but overlapping spans all show
    "spans_manual": ("text",),
    "html": ("html",),
    "text_input": (),
    "blocks": (),
    "review": ("text", "html"),
}
VIEWS = tuple(REQUIRED_INPUT)
DEFAULT_FIELD_ID = "user_input"
# Task keys a typed text must never overwrite.
TASK_KEYS = ("text", "html", "answer", "label", "spans", "tokens", "options", "accept", "meta")


def check_view_config(recipe: str, view_id: str, config: dict[str, Any]) -> None:
    """The config a view needs: `blocks` for the blocks view, each a known view; an error
    naming the recipe, the block and what to do."""
    for where, field in _field_ids(view_id, config):
        if not isinstance(field, str) or field in TASK_KEYS or field.startswith("_"):
            raise RecipeError(
                f"Recipe '{recipe}': {where} 'field_id' is {field!r}: the typed text would "
                "overwrite a task key. Choose another name, say 'user_input'."
            )
    blocks = config.get("blocks")
    if view_id != "blocks":
        return
    if not blocks:
        raise RecipeError(
            f"Recipe '{recipe}': view_id 'blocks' needs config 'blocks', a list of "
            '{"view_id": ...} dicts (one per block).'
        )
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise RecipeError(
                f"Recipe '{recipe}': config 'blocks' item {i + 1} must be a dict with a "
                f"'view_id', not {type(block).__name__}."
            )
        inner = block.get("view_id")
        if inner not in VIEWS or inner == "blocks":
            usable = [v for v in VIEWS if v != "blocks"]
            hint = closest(str(inner), usable)
            more = f"Did you mean '{hint[0]}'?" if hint else f"Use one of: {', '.join(usable)}."
            raise RecipeError(
                f"Recipe '{recipe}': config 'blocks' item {i + 1} has view_id {inner!r}. {more}"
            )


def _field_ids(view_id: str, config: dict[str, Any]) -> list[tuple[str, Any]]:
    """(where, field_id) of the config and of each text_input block that names one."""
    found = [("config", config["field_id"])] if config.get("field_id") is not None else []
    if view_id == "blocks":
        for i, block in enumerate(config.get("blocks") or []):
            if isinstance(block, dict) and block.get("field_id") is not None:
                found.append((f"config 'blocks' item {i + 1}", block["field_id"]))
    return found


def _blocks(view_id: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The (view_id, overrides) of each part of a card: the blocks, or the view itself."""
    if view_id == "blocks":
        return list(config.get("blocks") or [])
    return [{"view_id": view_id}]


def required_input(view_id: str, config: dict[str, Any]) -> list[tuple[str, ...]]:
    """Each group of input keys a task needs one of, for this view (or each of its blocks).
    A block that sets one of the keys itself, or an html view with an `html_template`, needs
    nothing from the task."""
    needs: list[tuple[str, ...]] = []
    for block in _blocks(view_id, config):
        keys = REQUIRED_INPUT[block["view_id"]]
        if not keys or any(k in block for k in keys):
            continue
        if block["view_id"] == "html" and (
            block.get("html_template") or config.get("html_template")
        ):
            continue
        if keys not in needs:
            needs.append(keys)
    return needs


def missing_input(task: Task, needs: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first group of `needs` of which the task has no key; None when it has all it needs."""
    for keys in needs:
        if task.keys().isdisjoint(keys):
            return keys
    return None


PREFILLED = ("choice", "ner_manual", "spans_manual", "text_input")  # views `prefill` adds to


def prefills(view_id: str, config: dict[str, Any]) -> bool:
    """Whether `prefill` can add a key to a task of this view (or of one of its blocks)."""
    return any(block["view_id"] in PREFILLED for block in _blocks(view_id, config))


def prefill(task: Task, view_id: str, config: dict[str, Any]) -> Task:
    """The keys the page's views add to a task before it is answered, added in place where
    missing: a choice view's `accept` list, a span view's `spans` list, a text_input view's
    field (its `field_id`)."""
    for block in _blocks(view_id, config):
        view = block["view_id"]
        if view == "choice" and not isinstance(task.get("accept"), list):
            task["accept"] = []
        elif view in ("ner_manual", "spans_manual") and not isinstance(task.get("spans"), list):
            task["spans"] = []
        elif view == "text_input":
            field = block.get("field_id") or task.get("field_id") or config.get("field_id")
            task.setdefault(str(field or DEFAULT_FIELD_ID), "")
    return task
