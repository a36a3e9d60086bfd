"""Find and load plugins: `-F` files first, then `recipe_runner` entry points (built-ins too)."""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import SourceError
from .recipes import RecipeRegistry, recipe_name

ENTRY_POINT_GROUP = "recipe_runner"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin, as `rr plugins` shows it."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    distribution: str | None = None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    message: str


@dataclass
class Plugins:
    """The plugin manager, the recipes it registered and the plugins that failed to load."""

    manager: pluggy.PluginManager
    registry: RecipeRegistry
    infos: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)


def disabled_plugins() -> set[str]:
    raw = os.environ.get("RR_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def make_plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def load_plugins(files: list[str | Path] | None = None, entry_points: bool = True) -> Plugins:
    """Load `-F` files, then every entry point not blocked by RR_DISABLE_PLUGINS, and run the hook.

    A plugin that fails to import, registers a misspelled hook or raises in its hook is recorded in
    `failures` and left out; the others keep working.
    """
    manager = make_plugin_manager()
    plugins = Plugins(manager, RecipeRegistry())
    blocked = disabled_plugins()
    file_recipes: dict[str, list[Any]] = {}
    for path in files or []:
        name = str(path)
        if name in blocked:
            continue
        module = _import_file(Path(path))
        plugins.registry.files.add(name)
        file_recipes[name] = [v for v in vars(module).values() if recipe_name(v) is not None]
        _register(plugins, module, name, version=None, distribution=None)
    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in blocked or manager.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
            except Exception as err:  # a broken plugin must not take the others down
                plugins.failures.append(PluginFailure(ep.name, f"{type(err).__name__}: {err}"))
                continue
            dist = ep.dist
            _register(
                plugins,
                module,
                ep.name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
            )
    _run_register_hooks(plugins, file_recipes)
    return plugins


def _import_file(path: Path) -> ModuleType:
    """The module of a `-F` file; one that fails to import stops the run: the recipe asked
    for may be in it, and running an installed one of the same name instead would hide that."""
    if not path.is_file():
        raise SourceError(f"Can't find the recipe file '{path}'. Check the path given to -F.")
    module_name = f"rr_file_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SourceError(f"Can't import '{path}' as Python: give -F a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(module_name, None)
        raise SourceError(
            f"Can't load the recipe file '{path}'{_line_in(err, path)}: "
            f"{type(err).__name__}: {_first_line(err)}"
        ) from None
    return module


def _line_in(err: BaseException, path: Path) -> str:
    """ " (line N)": where in `path` the error was raised, when it was."""
    if isinstance(err, SyntaxError) and err.lineno:
        return f" (line {err.lineno})"
    import traceback

    target = path.resolve()
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(err.__traceback__)
        if Path(frame.filename).resolve() == target
    ]
    return f" (line {lines[-1]})" if lines else ""


def _first_line(err: BaseException) -> str:
    text = str(err.msg if isinstance(err, SyntaxError) else err).strip()
    return text.splitlines()[0] if text else "(no message)"


def _register(
    plugins: Plugins, module: Any, name: str, version: str | None, distribution: str | None
) -> None:
    manager = plugins.manager
    try:
        manager.register(module, name=name)
        manager.check_pending()
    except Exception as err:  # e.g. a misspelled hook name: pluggy.PluginValidationError
        if manager.has_plugin(name):
            manager.unregister(name=name)
        plugins.failures.append(PluginFailure(name, f"{type(err).__name__}: {err}"))
        return
    hooks = tuple(sorted(h.name for h in manager.get_hookcallers(module) or []))
    plugins.infos.append(PluginInfo(name, version, hooks, distribution))


def _run_register_hooks(plugins: Plugins, file_recipes: dict[str, list[Any]]) -> None:
    registry = plugins.registry
    for name, funcs in file_recipes.items():
        registry.current_plugin = name
        for func in funcs:
            registry.add(func)
    # In load order (-F files, then entry points by name): `get_hookimpls` lists them as
    # registered, while calling the hook would run the last registered first.
    for impl in plugins.manager.hook.rr_register_recipes.get_hookimpls():
        registry.current_plugin = impl.plugin_name
        try:
            impl.function(registry=registry)
        except Exception as err:
            plugins.failures.append(PluginFailure(impl.plugin_name, f"{type(err).__name__}: {err}"))
    registry.current_plugin = "?"
