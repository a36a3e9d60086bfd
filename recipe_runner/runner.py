"""From a recipe name and its arguments to a ready controller: the steps both drivers share."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .components import check_components
from .config import Config, load_config
from .errors import RecipeError, RecipeFailure
from .plugins import Plugins, load_plugins
from .recipes import Recipe, recipe_name

if TYPE_CHECKING:
    from .controller import Controller

Notify = Callable[[str], None]


def notify_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class Run:
    """A recipe called and ready to run."""

    recipe: Recipe
    controller: Controller
    config: Config


class NothingToServe(Exception):
    """The recipe returned None: it did its work when called, and a run ends there."""

    def __init__(self, recipe: str) -> None:
        super().__init__(f"Recipe '{recipe}' returned no components: nothing to serve.")
        self.recipe = recipe


def find_recipe(
    recipe: str | Callable[..., Any],
    files: Sequence[str | Path] = (),
    notify: Notify = notify_stderr,
) -> Recipe:
    """A recipe by name (loading plugins and `-F` files) or an `@recipe` function given directly."""
    if callable(recipe):
        name = recipe_name(recipe) or str(getattr(recipe, "__name__", "recipe"))
        return Recipe(name, recipe, "<python>")
    plugins = load_and_report(files, notify, only=recipe)
    return plugins.registry.get(recipe)


def load_and_report(
    files: Sequence[str | Path] = (), notify: Notify = notify_stderr, only: str | None = None
) -> Plugins:
    """Load plugins and tell about each one that failed (the others keep working) and each
    installed recipe a `-F` file overrides (`only`: that recipe's override alone)."""
    plugins = load_plugins(list(files))
    for failure in plugins.failures:
        notify(
            f"Warning: plugin '{failure.name}' failed to load and is left out: {failure.message}"
        )
    for name, file, plugin in plugins.registry.overrides:
        if only is not None and name != only:
            continue
        notify(f"Recipe '{name}' from '{file}' overrides the one of plugin '{plugin}'.")
    return plugins


def recipe_failure(recipe: Recipe, err: BaseException) -> RecipeFailure:
    """The one line that says where a recipe (or one of its callbacks) raised, and what."""
    import inspect

    try:
        own: Path | None = Path(inspect.getsourcefile(recipe.func) or "").resolve()
    except TypeError:
        own = None
    return RecipeFailure(failure_line(recipe.name, err, own), err)


def failure_line(name: str, err: BaseException, own: Path | None = None) -> str:
    """ "Recipe NAME failed at FILE:LINE: Type: message": the last frame in the recipe's own
    file `own`, else the last in no library (this package, the standard library, site-packages),
    else the last outside this package."""
    import sysconfig
    import traceback

    frames = traceback.extract_tb(err.__traceback__)
    package = Path(__file__).resolve().parent
    libraries = {Path(p).resolve() for p in sysconfig.get_paths().values() if p}

    def outside(frame: traceback.FrameSummary, roots: set[Path]) -> bool:
        return not any(root in Path(frame.filename).resolve().parents for root in roots)

    mine = [f for f in frames if own is not None and Path(f.filename).resolve() == own]
    user = [f for f in frames if outside(f, {package, *libraries})]
    ours = [f for f in frames if outside(f, {package})]
    found = mine or user or ours or list(frames)
    where = f" at {found[-1].filename}:{found[-1].lineno}" if found else ""
    text = str(err).strip()
    message = text.splitlines()[0] if text else "(no message)"
    return (
        f"Recipe '{name}' failed{where}: {type(err).__name__}: {message} "
        "(--traceback or RR_TRACEBACK=1 shows the whole traceback)"
    )


def prepare_run(
    recipe: Recipe,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    cli_config: dict[str, Any] | None = None,
    shared_claims: bool = False,
    notify: Notify = notify_stderr,
    before_open: Callable[[Config], object] | None = None,
) -> Run:
    """Call the recipe, check its components, merge the config, open the database.
    `before_open(config)` runs before the database is opened and the dataset created: what
    fails there (a port in use) leaves nothing behind. `NothingToServe` when the recipe returned
    None: it did its work itself (wrote a file, filled a dataset)."""
    # Imported here: `rr recipes` and `rr plugins` need this module but not the database.
    from .controller import Controller
    from .db import connect

    value = recipe.func(*args, **(kwargs or {}))
    if value is None:  # as Prodigy, which runs such a recipe and exits
        raise NothingToServe(recipe.name)
    components = check_components(recipe.name, value)
    config = load_config(components.config, cli_config)
    for warning in config.warnings:
        notify(f"Warning: {warning}")
    if before_open is not None:
        before_open(config)
    db = connect(config) if components.dataset is not None else None
    # The web view always shares its claims (several processes may serve one dataset); a
    # headless run when config `shared_claims` says so (several workers split one stream).
    shared = shared_claims or config["shared_claims"]
    try:
        controller = Controller(components, config, db, shared_claims=shared, notify=notify)
    except Exception:
        if db is not None:
            db.close()
        raise
    return Run(recipe, controller, config)


def check_recipe_name(name: str) -> None:
    if not name or name.startswith("-"):
        raise RecipeError(f"'{name}' is not a recipe name. Run options go before the recipe name.")
