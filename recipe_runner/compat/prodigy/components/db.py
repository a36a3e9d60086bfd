"""`prodigy.components.db`: `connect()` and the database recipes see."""

from __future__ import annotations

from recipe_runner import RecipeDatabase as Database
from recipe_runner import connect

__all__ = ["Database", "connect"]
