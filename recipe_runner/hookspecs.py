"""The plugin hooks of recipe-runner, and the markers plugins use to implement them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .recipes import RecipeRegistry

PROJECT_NAME = "recipe_runner"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def rr_register_recipes(registry: RecipeRegistry) -> None:
    """Add recipes to the registry with `registry.add(func)`.

    Fires once, when the plugins are loaded, before any command looks a recipe up
    (`rr recipes`, `rr run`, `run_headless`).
    """
