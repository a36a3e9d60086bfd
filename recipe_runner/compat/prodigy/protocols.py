"""`prodigy.protocols`: what a model and the controller look like to a recipe."""

from __future__ import annotations

from recipe_runner import Model
from recipe_runner import RecipeController as ControllerProtocol

__all__ = ["ControllerProtocol", "Model"]
