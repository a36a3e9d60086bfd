"""The `@recipe` decorator and the registry that plugins fill through `rr_register_recipes`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import RecipeError, closest

RecipeFunc = Callable[..., dict[str, Any]]
RECIPE_ATTR = "_rr_recipe_name"
ANNOTATIONS_ATTR = "_rr_recipe_args"
KINDS = ("positional", "option", "flag")


@dataclass(frozen=True)
class Arg:
    """How a recipe argument appears on the command line: `Arg()` a positional argument,
    `Arg("--label", "-l")` an option (a flag for a `bool`); `help` is shown by `--help` and
    `converter` turns the text given into the value the recipe gets."""

    option: str | None = None
    short: str | None = None
    help: str = ""
    converter: Callable[[str], Any] | None = None

    @property
    def kind(self) -> str:
        return "positional" if self.option is None else "option"


def recipe(name: str, **annotations: Any) -> Callable[[RecipeFunc], RecipeFunc]:
    """Mark a function as the recipe `name`; register it with `registry.add(func)`.

    `annotations` describe arguments, by parameter name: an `Arg(...)`, or a tuple
    `("help", "positional" | "option" | "flag", "shortcut" | None, type or converter)`."""
    if not isinstance(name, str) or not name.strip():
        raise RecipeError(f"A recipe name must be a non-empty string, not {name!r}.")
    parsed = {key: _annotation(name, key, value) for key, value in annotations.items()}

    def mark(func: RecipeFunc) -> RecipeFunc:
        import inspect

        params = inspect.signature(func).parameters
        unknown = [key for key in parsed if key not in params]
        if unknown:
            raise RecipeError(
                f"Recipe '{name}' annotates '{unknown[0]}', which is not one of its parameters "
                f"({', '.join(params) or 'none'})."
            )
        setattr(func, RECIPE_ATTR, name)
        setattr(func, ANNOTATIONS_ATTR, parsed)
        return func

    return mark


def _annotation(recipe: str, key: str, value: Any) -> Arg:
    """An `Arg` from either form of annotation, checked."""
    if isinstance(value, Arg):
        return value
    if isinstance(value, str):
        return Arg(help=value)
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 4:
        raise RecipeError(
            f"Recipe '{recipe}': the annotation of '{key}' must be Arg(...) or a tuple "
            '("help", "positional" | "option" | "flag", "shortcut" | None, type).'
        )
    help_text, kind, short, convert = (*value, None, None, None)[:4]
    kind = kind or "positional"
    if kind == "options":  # a common misspelling, which Prodigy's parser took as an option
        kind = "option"
    if kind not in KINDS:
        raise RecipeError(
            f"Recipe '{recipe}': '{key}' is annotated as {kind!r}; use positional, option or flag."
        )
    option = None if kind == "positional" else "--" + key.replace("_", "-")
    flag = f"-{short}" if short else None
    return _Annotated(option, flag, help_text or "", convert, kind)


@dataclass(frozen=True)
class _Annotated(Arg):
    """An `Arg` read from a tuple annotation, which also says "flag"."""

    given_kind: str = "positional"

    @property
    def kind(self) -> str:
        return self.given_kind


def recipe_args(func: Any) -> dict[str, Arg]:
    """The `Arg` annotations given to `@recipe`, by parameter name."""
    return dict(getattr(func, ANNOTATIONS_ATTR, None) or {})


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
    files: set[str] = field(default_factory=set)  # plugins that are `-F` files
    # (name, file, plugin): a `-F` file's recipe kept, an installed one of the same name left out
    overrides: list[tuple[str, str, str]] = field(default_factory=list)

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
        from_file = [r for r in known if r.plugin in self.files]
        if from_file and self.current_plugin not in self.files:
            override = (name, from_file[0].plugin, self.current_plugin)
            if override not in self.overrides:
                self.overrides.append(override)
            return  # a recipe given with -F wins over an installed one
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
                f"Recipe '{name}' is provided by two plugins, {plugins}. Choose one by "
                f"blocking the other: RR_DISABLE_PLUGINS={found[0].plugin} runs "
                f"'{found[1].plugin}''s."
            )
        return found[0]
