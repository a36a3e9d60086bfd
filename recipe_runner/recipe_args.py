"""Parse a recipe's command-line arguments from its function signature, with typer."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

from .errors import RecipeError, UsageError
from .recipes import Arg, Recipe, recipe_args

LIST_TYPES = (list, tuple, set, typing.List, typing.Tuple, typing.Set)  # noqa: UP006


class HelpShown(Exception):
    """The recipe's --help was printed; nothing to run."""


def split_list(value: Any) -> Any:
    """ "A,B" -> ["A", "B"]; lists are kept (comma-separated items inside them split too)."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple | set) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def split_string(value: str | None) -> list[str]:
    """ "A, B,C" -> ["A", "B", "C"]: how comma-separated labels on the command line are read."""
    return split_list(value) or []


TYPES = (str, int, float, bool)


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in LIST_TYPES or annotation in LIST_TYPES:
        return True
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_is_list(a) for a in get_args(annotation) if a is not type(None))
    return False


def recipe_parameters(
    recipe: Recipe,
) -> tuple[list[inspect.Parameter], dict[str, Callable[[Any], Any]]]:
    """The signature typer should see (list types taken as comma-separated strings), and the
    conversions to apply to parsed values, by parameter name."""
    func = recipe.func
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as err:
        raise RecipeError(f"Recipe '{recipe.name}': can't read its type hints ({err}).") from None
    annotations = recipe_args(func)
    params = []
    post: dict[str, Callable[[Any], Any]] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        arg = annotations.get(param.name)
        annotation = hints.get(param.name, str if param.default is inspect.Parameter.empty else Any)
        extras: tuple[Any, ...] = ()
        if get_origin(annotation) is Annotated:
            annotation, *rest = get_args(annotation)
            extras = tuple(rest)
            arg = arg or next((e for e in extras if isinstance(e, Arg)), None)
            extras = tuple(e for e in extras if not isinstance(e, Arg))
        if arg is not None and arg.kind == "flag" and param.default is inspect.Parameter.empty:
            param = param.replace(default=False)
        converter = arg.converter if arg is not None else None
        if converter in TYPES or (isinstance(converter, type) and param.name not in hints):
            annotation, converter = converter, None
        if annotation is Any:
            annotation = (
                type(param.default) if param.default not in (None, inspect.Parameter.empty) else str
            )
        if converter is not None:
            post[param.name] = _converting(recipe.name, param.name, converter)
            annotation = typing.Optional[str] if param.default is None else str  # noqa: UP045
        elif _is_list(annotation):
            post[param.name] = split_list
            optional = param.default is None
            annotation = typing.Optional[str] if optional else str  # noqa: UP045
            if isinstance(param.default, list | tuple):
                param = param.replace(default=",".join(map(str, param.default)))
        if arg is not None and not extras:
            extras = (_typer_info(arg),)
        if _is_bool(annotation) and param.default is not inspect.Parameter.empty:
            extras = _bool_flag(param, extras)
        if extras:
            annotation = Annotated[(annotation, *extras)]
        params.append(param.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))
    return params, post


def _typer_info(arg: Arg) -> Any:
    import typer

    if arg.kind == "positional":
        return typer.Argument(help=arg.help or None, show_default=False)
    decls = [d for d in (arg.option, arg.short) if d]
    return typer.Option(*decls, help=arg.help or None)


def _converting(recipe: str, name: str, converter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`converter` for text given on the command line (defaults are passed as they are)."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return converter(value)
        except Exception as err:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"rr run {recipe}: invalid value for {option}: {err}") from None

    return convert


def _is_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    origin = get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args == [bool]
    return False


def _bool_flag(param: inspect.Parameter, extras: tuple[Any, ...]) -> tuple[Any, ...]:
    """A bool option is a plain flag (`--exclusive`), not typer's `--exclusive/--no-exclusive`;
    only a flag that defaults to true keeps its `--no-` form, or it could never be turned off."""
    import copy

    import typer
    from typer.models import OptionInfo

    flag = "--" + param.name.replace("_", "-")
    decls = (f"{flag}/--no-{flag[2:]}",) if param.default is True else (flag,)
    out: list[Any] = []
    found = False
    for extra in extras:
        if isinstance(extra, OptionInfo) and not found:
            found = True
            if not extra.param_decls:
                extra = copy.copy(extra)  # the recipe's own object is shared: never mutate it
                extra.param_decls = decls
        out.append(extra)
    if not found:
        out.append(typer.Option(*decls))
    return tuple(out)


def parse_recipe_args(recipe: Recipe, argv: list[str]) -> dict[str, Any]:
    """The recipe's keyword arguments from `argv`. Raises HelpShown after --help, and UsageError
    (its message already printed by typer) for arguments that do not fit."""
    import typer

    params, post = recipe_parameters(recipe)
    captured: dict[str, Any] = {}

    def command(**kwargs: Any) -> None:
        captured.update(kwargs)
        captured["__called__"] = True

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = recipe.func.__doc__
    app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    app.command(name=recipe.name)(command)
    click_command = typer.main.get_command(app)
    try:
        click_command.main(args=list(argv), prog_name=f"rr run {recipe.name}", standalone_mode=True)
    except SystemExit as exit:
        code = exit.code or 0
        if captured.pop("__called__", False):
            pass
        elif code == 0:
            raise HelpShown() from None
        else:
            raise UsageError("") from None
    captured.pop("__called__", None)
    for name, convert in post.items():
        captured[name] = convert(captured.get(name))
    return captured
