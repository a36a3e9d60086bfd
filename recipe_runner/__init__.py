"""recipe-runner: a plugin-driven annotation recipe runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import RecipeRunnerError
from .recipes import recipe

if TYPE_CHECKING:
    from .headless import HeadlessSummary
    from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"
__all__ = [
    "RecipeRunnerError",
    "__version__",
    "connect",
    "hookimpl",
    "hookspec",
    "recipe",
    "run_headless",
]


def run_headless(recipe: Any, *args: Any, answer: Any = "accept", **kwargs: Any) -> HeadlessSummary:
    """Run a recipe (a name or an `@recipe` function) without a web view.

    See `recipe_runner.headless.run_headless` for the arguments."""
    from .headless import run_headless as _run_headless

    return _run_headless(recipe, *args, answer=answer, **kwargs)


def connect() -> Any:
    """The database the configuration names (`db`, `db_settings`, RR_DB_URL): its datasets
    (`db.datasets`, `name in db`), `db.get_dataset(name)` (the answers) and
    `db.add_examples(examples, datasets=[...])`. Close it with `db.close()`."""
    from .config import load_config
    from .db import connect as _connect

    return _connect(load_config())


def __getattr__(name: str) -> Any:
    # The hook markers need pluggy, which `rr --help` has no use for: imported on first use.
    if name in ("hookimpl", "hookspec"):
        from . import hookspecs

        return getattr(hookspecs, name)
    raise AttributeError(f"module 'recipe_runner' has no attribute {name!r}")
