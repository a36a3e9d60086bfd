"""`prodigy.protocols`: what a model, the controller and a recipe's components look like."""

from __future__ import annotations

from typing import Any

from recipe_runner import Model
from recipe_runner import RecipeController as ControllerProtocol

__all__ = ["ControllerComponentsDict", "ControllerProtocol", "Model"]

# What a recipe returns: `dataset`, `stream`, `view_id`, `config`, ... (recipes.md lists them).
ControllerComponentsDict = dict[str, Any]
