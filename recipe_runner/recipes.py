"""The `@recipe` decorator and the registry that plugins fill through `rr_register_recipes`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import RecipeError, closest

RecipeFunc = Callable[..., dict[str, Any]]
RECIPE_ATTR = "_rr_recipe_name"


def recipe(name: str) -> Callable[[RecipeFunc], RecipeFunc]:
    """Mark a function as the recipe `name`; register it with `registry.add(func)`."""
    if not isinstance(name, str) or not name.strip():
        raise RecipeError(f"A recipe name must be a non-empty string, not {name!r}.")

    def mark(func: RecipeFunc) -> RecipeFunc:
        setattr(func, RECIPE_ATTR, name)
        return func

    return mark


def recipe_name(func: Any) -> str | None:
    """The name given by `@recipe`, or None for an undecorated function."""
    return getattr(func, RECIPE_ATTR, None)


@dataclass(frozen=True)
class Recipe:
    """A registered recipe: its name, its function and the plugin that provides it."""

    name: str
    func: RecipeFunc
    plugin: str

    @property
    def summary(self) -> str:
        doc = (self.func.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""


@dataclass
class RecipeRegistry:
    """The recipes the loaded plugins registered, by name; clashes are kept to report them."""

    current_plugin: str = "?"
    _recipes: dict[str, list[Recipe]] = field(default_factory=dict)

    def add(self, func: RecipeFunc) -> None:
        """Register a function decorated with `@recipe(name)`."""
        name = recipe_name(func)
        if name is None:
            raise RecipeError(
                f"Plugin '{self.current_plugin}' registered {getattr(func, '__name__', func)!r}, "
                "which is not decorated with @recipe(name)."
            )
        known = self._recipes.setdefault(name, [])
        if any(r.func is func for r in known):
            return  # registering the same function twice is harmless
        known.append(Recipe(name, func, self.current_plugin))

    def names(self) -> list[str]:
        return sorted(self._recipes)

    def all(self) -> list[Recipe]:
        """Every registered recipe, clashing ones included, sorted by name."""
        return [r for name in self.names() for r in self._recipes[name]]

    def clashes(self) -> dict[str, list[Recipe]]:
        return {n: rs for n, rs in self._recipes.items() if len(rs) > 1}

    def get(self, name: str) -> Recipe:
        """The recipe `name`; an error suggesting close names, or naming both clashing plugins."""
        found = self._recipes.get(name)
        if not found:
            hint = closest(name, self.names())
            more = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise RecipeError(
                f"Can't find recipe '{name}'.{more} Run 'rr recipes' to list the recipes available."
            )
        if len(found) > 1:
            plugins = " and ".join(f"'{r.plugin}'" for r in found)
            raise RecipeError(
                f"Recipe '{name}' is provided by two plugins, {plugins}. "
                "Block one with RR_DISABLE_PLUGINS=name."
            )
        return found[0]
