"""Recipe arguments from the function's signature: positionals, options, flags, lists, help."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
import typer

from recipe_runner import recipe
from recipe_runner.errors import UsageError
from recipe_runner.recipe_args import HelpShown, parse_recipe_args, split_list
from recipe_runner.recipes import Recipe


@recipe("demo.manual")
def demo(
    dataset: str,
    source: Annotated[str, typer.Argument(help="Where the tasks come from.")],
    label: list[str] | None = None,
    batch_count: int = 3,
    exclusive: bool = False,
    keep_going: bool = True,
    verbose: Annotated[bool, typer.Option(help="Say more.")] = False,
    threshold: float = 0.5,
    tags: list[str] = ["a", "b"],  # noqa: B006
) -> dict[str, Any]:
    """A demo recipe.

    More text that is not the summary."""
    return {}


DEMO = Recipe("demo.manual", demo, "tests")


def test_positionals_and_defaults() -> None:
    kwargs = parse_recipe_args(DEMO, ["ds", "in.jsonl"])
    assert kwargs == {
        "dataset": "ds",
        "source": "in.jsonl",
        "label": None,
        "batch_count": 3,
        "exclusive": False,
        "keep_going": True,
        "verbose": False,
        "threshold": 0.5,
        "tags": ["a", "b"],
    }


def test_options_are_kebab_case_and_typed() -> None:
    kwargs = parse_recipe_args(
        DEMO, ["ds", "in.jsonl", "--batch-count", "7", "--threshold", "0.25", "--label", "A,B"]
    )
    assert kwargs["batch_count"] == 7
    assert kwargs["threshold"] == 0.25
    assert kwargs["label"] == ["A", "B"]


def test_bool_parameters_are_plain_flags() -> None:
    kwargs = parse_recipe_args(DEMO, ["ds", "x", "--exclusive", "--verbose", "--no-keep-going"])
    assert (kwargs["exclusive"], kwargs["verbose"], kwargs["keep_going"]) == (True, True, False)
    # A false default has no --no- form: only the flag.
    with pytest.raises(UsageError):
        parse_recipe_args(DEMO, ["ds", "x", "--no-exclusive"])


def test_help_shows_flags_without_no_form(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(HelpShown):
        parse_recipe_args(DEMO, ["--help"])
    out = capsys.readouterr().out
    assert "A demo recipe." in out
    assert "--exclusive" in out and "--no-exclusive" not in out
    assert "--verbose" in out and "Say more." in out
    assert "--keep-going / --no-keep-going" in out
    assert "--batch-count" in out
    assert "Where the tasks come from." in out


def test_the_recipes_own_option_objects_are_not_changed() -> None:
    parse_recipe_args(DEMO, ["ds", "x"])
    option = typing.get_args(typing.get_type_hints(demo, include_extras=True)["verbose"])[1]
    assert option.param_decls == ()


def test_lists_split_on_commas_and_repeat() -> None:
    assert parse_recipe_args(DEMO, ["ds", "x", "--tags", "c, d,,e"])["tags"] == ["c", "d", "e"]
    assert split_list(None) is None
    assert split_list(["A,B", "C"]) == ["A", "B", "C"]


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError):
        parse_recipe_args(DEMO, ["ds"])  # source missing
    assert "Missing argument" in capsys.readouterr().err
    with pytest.raises(UsageError):
        parse_recipe_args(DEMO, ["ds", "x", "--batch-count", "many"])
    assert "Invalid value for '--batch-count'" in capsys.readouterr().err
