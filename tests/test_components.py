"""The components a recipe returns: checked, with errors naming the recipe and the key."""

from __future__ import annotations

from typing import Any

import pytest

from recipe_runner.components import call_with_accepted, check_components
from recipe_runner.errors import RecipeError


def valid(**extra: Any) -> dict[str, Any]:
    return {"dataset": "ds", "stream": [{"text": "a"}], "view_id": "text", **extra}


def test_valid_components() -> None:
    def update(answers: list) -> float:
        return 0.0

    components = check_components(
        "my.recipe",
        valid(update=update, exclude=["old"], config={"batch_size": 5}),
    )
    assert components.recipe == "my.recipe"
    assert components.dataset == "ds"
    assert components.view_id == "text"
    assert components.update is update
    assert components.exclude == ["old"]
    assert components.config == {"batch_size": 5}
    assert components.progress is None


def test_dataset_none_or_missing_is_fine() -> None:
    assert check_components("r", {"stream": [], "view_id": "html"}).dataset is None
    assert check_components("r", valid(dataset=None)).dataset is None


@pytest.mark.parametrize(
    ("key", "closest"),
    [("strem", "stream"), ("view", "view_id"), ("on_exits", "on_exit"), ("datset", "dataset")],
)
def test_unknown_key_names_the_closest(key: str, closest: str) -> None:
    with pytest.raises(RecipeError) as err:
        check_components("my.recipe", valid(**{key: 1}))
    message = str(err.value)
    assert "'my.recipe'" in message
    assert f"'{key}'" in message
    assert f"Did you mean '{closest}'?" in message


@pytest.mark.parametrize("key", ["stream", "view_id"])
def test_missing_required_key(key: str) -> None:
    components = valid()
    del components[key]
    with pytest.raises(RecipeError, match=f"Recipe 'my.recipe' returned no '{key}' component"):
        check_components("my.recipe", components)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stream", "a string", "'stream' must be an iterable of task dicts"),
        ("stream", {"text": "a"}, "'stream' must be an iterable of task dicts"),
        ("stream", 42, "'stream' must be an iterable of task dicts"),
        ("view_id", "ner_manul", "Did you mean 'ner_manual'?"),
        ("view_id", "zzz", "Use one of: text, classification"),
        ("dataset", 5, "'dataset' must be a string or None"),
        ("update", "not callable", "'update' must be callable"),
        ("validate_answer", 3, "'validate_answer' must be callable"),
        ("exclude", "old", "'exclude' must be a list of dataset names"),
        ("exclude", [1], "'exclude' must be a list of dataset names"),
        ("config", ["batch_size"], "'config' must be a dict"),
    ],
)
def test_wrong_type_names_recipe_and_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(RecipeError) as err:
        check_components("my.recipe", valid(**{key: value}))
    assert "Recipe 'my.recipe'" in str(err.value)
    assert message in str(err.value)


def test_not_a_dict() -> None:
    with pytest.raises(RecipeError, match="Recipe 'r' must return a dict of components, not list"):
        check_components("r", [])


def test_generators_are_streams() -> None:
    components = check_components("r", valid(stream=(t for t in [{"text": "a"}])))
    assert list(components.stream) == [{"text": "a"}]


def test_callbacks_get_only_the_arguments_they_declare() -> None:
    seen: list[Any] = []

    def only_loss(loss: float | None) -> float:
        seen.append(loss)
        return 0.5

    def everything(**kwargs: Any) -> None:
        seen.append(sorted(kwargs))

    def nothing() -> int:
        return 7

    assert call_with_accepted(only_loss, session=3, total=9, loss=0.25) == 0.5
    call_with_accepted(everything, session=3, total=9, loss=None)
    assert call_with_accepted(nothing, session=1) == 7
    assert seen == [0.25, ["loss", "session", "total"]]
