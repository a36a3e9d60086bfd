"""Prodigy-style argument annotations on `@recipe`: tuples and `Arg`, parsed and shown by --help."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from typer.testing import CliRunner

from recipe_runner import Arg, RecipeError, recipe, split_string
from recipe_runner.cli import app
from recipe_runner.errors import UsageError
from recipe_runner.recipe_args import parse_recipe_args
from recipe_runner.recipes import Recipe


@recipe(
    "old.style",
    dataset=("The dataset to use", "positional", None, str),
    source=("The source data as a JSONL file", "positional", None, str),
    label=("One or more comma-separated labels", "option", "l", split_string),
    exclusive=("Treat classes as mutually exclusive", "flag", "E", bool),
    view_id=("ID of annotation interface", "option", "v", str),
    n_examples=("How many", "option", "n", int),
)
def old_style(dataset, source, label=None, exclusive=False, view_id="text", n_examples=10):
    """Old-style annotations."""
    return {}


@recipe(
    "new.style",
    dataset=Arg(help="Dataset to save answers to"),
    labels=Arg("--labels", "-L", help="Labels, comma-separated", converter=split_string),
    seed=Arg("--seed", help="Random seed"),
)
def new_style(
    dataset: str,
    threshold: Annotated[float, Arg("--threshold", "-t", help="Cut-off")] = 0.5,
    labels: list[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """New-style annotations."""
    return {}


def test_tuple_annotations_parse_positionals_options_shortcuts_and_flags() -> None:
    found = Recipe("old.style", old_style, "tests")
    assert parse_recipe_args(found, ["ds", "in.jsonl"]) == {
        "dataset": "ds",
        "source": "in.jsonl",
        "label": None,
        "exclusive": False,
        "view_id": "text",
        "n_examples": 10,
    }
    kwargs = parse_recipe_args(
        found, ["ds", "in.jsonl", "-l", "A, B", "-E", "-v", "html", "-n", "3"]
    )
    assert kwargs["label"] == ["A", "B"] and kwargs["exclusive"] is True
    assert kwargs["view_id"] == "html" and kwargs["n_examples"] == 3
    assert (
        parse_recipe_args(found, ["ds", "s", "--label", "X", "--n-examples", "4"])["n_examples"]
        == 4
    )
    with pytest.raises(UsageError):
        parse_recipe_args(found, ["ds", "s", "-n", "many"])


def test_arg_annotations_with_converters_and_type_hints() -> None:
    found = Recipe("new.style", new_style, "tests")
    kwargs = parse_recipe_args(found, ["ds", "-L", "A,B", "-t", "0.7", "--seed", "3"])
    assert kwargs == {"dataset": "ds", "threshold": 0.7, "labels": ["A", "B"], "seed": 3}
    assert parse_recipe_args(found, ["ds"])["labels"] is None


def test_recipe_help_shows_the_annotations(tmp_path: Path) -> None:
    path = tmp_path / "old.py"
    path.write_text(
        "from recipe_runner import recipe, split_string\n"
        "@recipe('file.old', dataset=('The dataset to use', 'positional', None, str),\n"
        "        label=('One or more comma-separated labels', 'option', 'l', split_string),\n"
        "        exclusive=('Treat classes as mutually exclusive', 'flag', 'E', bool))\n"
        "def old(dataset, label=None, exclusive=False):\n"
        "    '''Label things the old way.'''\n"
        "    return {}\n",
        encoding="utf8",
    )
    result = CliRunner().invoke(app, ["run", "-F", str(path), "file.old", "--help"])
    assert result.exit_code == 0, result.output
    for text in (
        "Label things the old way.",
        "The dataset to use",
        "-l, --label",
        "One or more comma-separated labels",
        "-E, --exclusive",
        "Treat classes as mutually exclusive",
    ):
        assert text in result.stdout, text
    assert "--no-exclusive" not in result.stdout


def test_annotation_mistakes_name_the_recipe_and_argument() -> None:
    with pytest.raises(RecipeError, match=r"'x\.y' annotates 'labl', which is not one of its"):

        @recipe("x.y", labl=("Labels", "option", "l", str))
        def one(label: str = "") -> dict[str, Any]:
            return {}

    with pytest.raises(RecipeError, match="'label' is annotated as 'optional'"):
        recipe("x.y", label=("Labels", "optional", "l", str))
    with pytest.raises(RecipeError, match="must be Arg"):
        recipe("x.y", label=42)


def test_the_shared_annotations_of_older_prodigy_recipes() -> None:
    from recipe_runner.compat import prodigy

    @prodigy.recipe(
        "old.shared",
        dataset=prodigy.recipe_args["dataset"],
        source=prodigy.recipe_args["source"],
        label=prodigy.recipe_args["label"],
        exclude=prodigy.recipe_args["exclude"],
    )
    def old_shared(dataset, source, label=None, exclude=None):
        return {}

    found = Recipe("old.shared", old_shared, "tests")
    kwargs = parse_recipe_args(found, ["ds", "in.jsonl", "-l", "A,B", "-e", "old"])
    assert kwargs == {
        "dataset": "ds",
        "source": "in.jsonl",
        "label": ["A", "B"],
        "exclude": ["old"],
    }
