"""Check the dict a recipe returns, and call its callbacks with the keyword arguments they take."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import RecipeError, closest
from .views import VIEWS

CALLBACKS = (
    "update",
    "progress",
    "on_load",
    "on_exit",
    "before_db",
    "validate_answer",
    "task_router",
)
KNOWN_KEYS = ("dataset", "stream", "view_id", "exclude", "config", "event_hooks", *CALLBACKS)
REQUIRED_KEYS = ("stream", "view_id")
EVENT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")


@dataclass
class Components:
    """A recipe's validated components."""

    recipe: str
    stream: Iterable[dict[str, Any]]
    view_id: str
    dataset: str | None = None
    update: Callable[..., Any] | None = None
    progress: Callable[..., Any] | None = None
    on_load: Callable[..., Any] | None = None
    on_exit: Callable[..., Any] | None = None
    before_db: Callable[..., Any] | None = None
    validate_answer: Callable[..., Any] | None = None
    task_router: Callable[..., Any] | None = None  # (ctrl, session_id, task) -> session ids
    exclude: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    event_hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)


def check_components(recipe: str, value: Any) -> Components:
    """The recipe's return value as Components; an error naming the recipe and the key."""
    if not isinstance(value, dict):
        raise RecipeError(
            f"Recipe '{recipe}' must return a dict of components, not {type(value).__name__}."
        )
    for key in value:
        if key not in KNOWN_KEYS:
            hint = closest(str(key), list(KNOWN_KEYS))
            more = f" Did you mean '{hint[0]}'?" if hint else ""
            raise RecipeError(f"Recipe '{recipe}' returned an unknown component '{key}'.{more}")
    for key in REQUIRED_KEYS:
        if key not in value:
            raise RecipeError(f"Recipe '{recipe}' returned no '{key}' component; it is required.")
    stream = value["stream"]
    if isinstance(stream, str | bytes | dict) or not isinstance(stream, Iterable):
        raise RecipeError(
            f"Recipe '{recipe}': component 'stream' must be an iterable of task dicts, "
            f"not {type(stream).__name__}."
        )
    view_id = value["view_id"]
    if view_id not in VIEWS:
        hint = closest(str(view_id), list(VIEWS))
        more = f" Did you mean '{hint[0]}'?" if hint else f" Use one of: {', '.join(VIEWS)}."
        raise RecipeError(f"Recipe '{recipe}': component 'view_id' is {view_id!r}.{more}")
    dataset = value.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise RecipeError(f"Recipe '{recipe}': component 'dataset' must be a string or None.")
    for key in CALLBACKS:
        if value.get(key) is not None and not callable(value[key]):
            raise RecipeError(f"Recipe '{recipe}': component '{key}' must be callable.")
    exclude = value.get("exclude") or []
    if not isinstance(exclude, list | tuple) or not all(isinstance(e, str) for e in exclude):
        raise RecipeError(
            f"Recipe '{recipe}': component 'exclude' must be a list of dataset names."
        )
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise RecipeError(f"Recipe '{recipe}': component 'config' must be a dict.")
    callbacks = {key: value.get(key) for key in CALLBACKS}
    return Components(
        recipe=recipe,
        stream=stream,
        view_id=view_id,
        dataset=dataset,
        exclude=list(exclude),
        config=dict(config),
        event_hooks=check_event_hooks(recipe, value.get("event_hooks")),
        **callbacks,
    )


def check_event_hooks(recipe: str, hooks: Any) -> dict[str, Callable[..., Any]]:
    """`event_hooks`: {name: fn(controller, **payload) -> dict}, names usable in a URL."""
    if hooks is None:
        return {}
    if not isinstance(hooks, dict):
        raise RecipeError(
            f"Recipe '{recipe}': component 'event_hooks' must be a dict of "
            f"{{name: function}}, not {type(hooks).__name__}."
        )
    for name, hook in hooks.items():
        if not isinstance(name, str) or not EVENT_NAME.fullmatch(name):
            raise RecipeError(
                f"Recipe '{recipe}': event hook name {name!r} must be letters, digits, "
                "'_', '-' or '.'."
            )
        if not callable(hook):
            raise RecipeError(f"Recipe '{recipe}': event hook '{name}' must be callable.")
    return dict(hooks)


def call_with_accepted(func: Callable[..., Any], **kwargs: Any) -> Any:
    """Call `func` with the keyword arguments it declares (all of them if it takes **kwargs)."""
    return func(**accepted_kwargs(func, kwargs))


def accepted_kwargs(func: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}
