"""`prodigy.core`: `recipe`, `Arg` and the `Controller` that `on_load` receives."""

from __future__ import annotations

from recipe_runner import Arg, recipe
from recipe_runner import RecipeController as Controller

__all__ = ["Arg", "Controller", "recipe"]
