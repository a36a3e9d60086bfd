"""recipe-runner: a plugin-driven annotation recipe runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import RecipeRunnerError
from .hookspecs import hookimpl, hookspec
from .recipes import recipe

if TYPE_CHECKING:
    from .headless import HeadlessSummary

__version__ = "0.1.0"
__all__ = ["RecipeRunnerError", "__version__", "hookimpl", "hookspec", "recipe", "run_headless"]


def run_headless(recipe: Any, *args: Any, answer: Any = "accept", **kwargs: Any) -> HeadlessSummary:
    """Run a recipe (a name or an `@recipe` function) without a web view.

    See `recipe_runner.headless.run_headless` for the arguments."""
    from .headless import run_headless as _run_headless

    return _run_headless(recipe, *args, answer=answer, **kwargs)
