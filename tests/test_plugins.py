"""Plugins: entry points, -F files, broken plugins, RR_DISABLE_PLUGINS and recipe name clashes."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from recipe_runner.errors import RecipeError, SourceError
from recipe_runner.plugins import load_plugins
from recipe_runner.recipes import RecipeRegistry, recipe

from .rr_testing import forget_modules, install_plugin, rr_main

GOOD = """
from recipe_runner import hookimpl, recipe

@recipe("greet.manual")
def greet(dataset: str, source: str):
    '''Greet every task.'''
    return {"dataset": dataset, "stream": [{"text": "hi"}], "view_id": "text"}

@hookimpl
def rr_register_recipes(registry):
    registry.add(greet)
    registry.add(greet)  # twice: harmless
"""
CLASH = """
from recipe_runner import hookimpl, recipe

@recipe("greet.manual")
def other_greet(dataset: str):
    '''Another greeting recipe under the same name.'''
    return {"dataset": dataset, "stream": [], "view_id": "text"}

@hookimpl
def rr_register_recipes(registry):
    registry.add(other_greet)
"""
BROKEN = """
import this_module_does_not_exist
"""
MISSPELLED = """
from recipe_runner import hookimpl

@hookimpl
def rr_register_recipe(registry):
    pass
"""
RAISES = """
from recipe_runner import hookimpl

@hookimpl
def rr_register_recipes(registry):
    raise RuntimeError("boom in the hook")
"""
MODULES = ("rrtest_good", "rrtest_clash", "rrtest_broken", "rrtest_misspelled", "rrtest_raises")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for test distributions; their modules forgotten afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    try:
        yield folder
    finally:
        forget_modules(*MODULES)


@pytest.fixture
def good(site: Path) -> Path:
    install_plugin(site, "rr-good", {"good": "rrtest_good"}, {"rrtest_good": GOOD})
    return site


def names(plugins: object) -> list[str]:
    return [r.name for r in plugins.registry.all()]  # type: ignore[attr-defined]


def test_builtin_recipes_come_from_entry_points() -> None:
    plugins = load_plugins()
    by_name = {p.name: p for p in plugins.infos}
    assert by_name["core"].hooks == ("rr_register_recipes",)
    assert by_name["core"].distribution == "recipe-runner"
    for name in ("mark", "textcat.manual", "ner.manual"):
        assert plugins.registry.get(name).plugin == "core"
    assert plugins.failures == []


def test_entry_point_plugin_is_found_by_its_name(good: Path) -> None:
    plugins = load_plugins()
    found = plugins.registry.get("greet.manual")
    assert found.plugin == "good"
    assert found.summary == "Greet every task."
    info = next(p for p in plugins.infos if p.name == "good")
    assert (info.version, info.distribution, info.hooks) == (
        "1.2.3",
        "rr-good",
        ("rr_register_recipes",),
    )
    assert names(plugins).count("greet.manual") == 1  # added twice, listed once
    assert plugins.registry.clashes() == {}


def test_plugin_that_fails_to_import_is_reported_and_the_rest_work(site: Path) -> None:
    install_plugin(
        site,
        "rr-mixed",
        {
            "broken": "rrtest_broken",
            "misspelled": "rrtest_misspelled",
            "raises": "rrtest_raises",
            "good": "rrtest_good",
        },
        {
            "rrtest_broken": BROKEN,
            "rrtest_misspelled": MISSPELLED,
            "rrtest_raises": RAISES,
            "rrtest_good": GOOD,
        },
    )
    plugins = load_plugins()
    failures = {f.name: f.message for f in plugins.failures}
    assert set(failures) == {"broken", "misspelled", "raises"}
    assert "this_module_does_not_exist" in failures["broken"]
    assert "rr_register_recipe" in failures["misspelled"]
    assert "boom in the hook" in failures["raises"]
    assert plugins.registry.get("greet.manual").plugin == "good"
    assert plugins.registry.get("mark").plugin == "core"


def test_broken_plugin_on_the_command_line(
    site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(site, "rr-broken", {"broken": "rrtest_broken"}, {"rrtest_broken": BROKEN})
    result = rr_main(capsys, monkeypatch, "recipes", "--json")
    assert result.code == 0
    assert "plugin 'broken' failed to load" in result.err
    assert "Traceback" not in result.err
    assert "mark" in {r["name"] for r in json.loads(result.out)}


def test_disabled_plugins(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_DISABLE_PLUGINS", " good , core")
    plugins = load_plugins()
    assert names(plugins) == [n for n in names(plugins) if n not in ("greet.manual", "mark")]
    assert "greet.manual" not in names(plugins)
    assert "mark" not in names(plugins)
    assert {p.name for p in plugins.infos}.isdisjoint({"good", "core"})


def test_file_plugin_with_recipes_and_a_hook(tmp_path: Path) -> None:
    path = tmp_path / "my_recipes.py"
    path.write_text(
        textwrap.dedent(
            """
            from recipe_runner import hookimpl, recipe

            @recipe("file.one")
            def one(dataset: str):
                '''First recipe of the file.'''
                return {"dataset": dataset, "stream": [], "view_id": "text"}

            @recipe("file.two")
            def two(dataset: str):
                return {"dataset": dataset, "stream": [], "view_id": "text"}

            def helper():  # not a recipe
                pass

            @hookimpl
            def rr_register_recipes(registry):
                registry.add(one)  # also found as a decorated function: harmless

                @recipe("file.from_hook")
                def three(dataset: str):
                    return {"dataset": dataset, "stream": [], "view_id": "text"}

                registry.add(three)
            """
        ),
        encoding="utf-8",
    )
    plugins = load_plugins([path])
    assert {r.name: r.plugin for r in plugins.registry.all() if r.name.startswith("file.")} == {
        "file.one": str(path),
        "file.two": str(path),
        "file.from_hook": str(path),
    }
    assert plugins.registry.get("file.one").summary == "First recipe of the file."
    assert any(p.name == str(path) for p in plugins.infos)


def test_file_plugin_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"Can't find the recipe file '.*nope\.py'"):
        load_plugins([tmp_path / "nope.py"])
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('bad file')\n", encoding="utf-8")
    # A file asked for by name that fails to import stops everything: no built-in of the same
    # name runs in place of the recipe it holds.
    with pytest.raises(SourceError, match=r"bad\.py' \(line 1\): ValueError: bad file$"):
        load_plugins([bad])


def test_two_functions_one_name(
    good: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(good, "rr-clash", {"clash": "rrtest_clash"}, {"rrtest_clash": CLASH})
    plugins = load_plugins()
    assert [r.plugin for r in plugins.registry.clashes()["greet.manual"]] == ["clash", "good"]
    with pytest.raises(RecipeError, match="'clash' and 'good'"):
        plugins.registry.get("greet.manual")

    listed = rr_main(capsys, monkeypatch, "recipes", "--json")
    assert listed.code == 0
    rows = [r for r in json.loads(listed.out) if r["name"] == "greet.manual"]
    assert sorted(r["plugin"] for r in rows) == ["clash", "good"]
    assert "Warning: recipe 'greet.manual' is provided by 'clash' and 'good'" in listed.err

    run = rr_main(capsys, monkeypatch, "run", "--headless", "greet.manual", "ds", "x")
    assert run.code == 1
    assert run.err.count("\n") == 1
    assert "'clash'" in run.err and "'good'" in run.err and "greet.manual" in run.err
    assert "Traceback" not in run.err

    monkeypatch.setenv("RR_DISABLE_PLUGINS", "clash")
    assert load_plugins().registry.get("greet.manual").plugin == "good"


def test_registry_rejects_undecorated_functions() -> None:
    registry = RecipeRegistry(current_plugin="mine")

    def plain() -> dict:
        return {}

    with pytest.raises(RecipeError, match="Plugin 'mine' registered 'plain'"):
        registry.add(plain)
    with pytest.raises(RecipeError, match="non-empty string"):
        recipe("")


def test_unknown_recipe_suggests_close_names() -> None:
    registry = load_plugins().registry
    with pytest.raises(RecipeError) as err:
        registry.get("textcat.manuel")
    assert "Can't find recipe 'textcat.manuel'" in str(err.value)
    assert "textcat.manual" in str(err.value)


def test_plugins_command_lists_hooks_and_versions(
    good: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = rr_main(capsys, monkeypatch, "plugins", "--json")
    assert result.code == 0
    rows = {r["name"]: r for r in json.loads(result.out)}
    assert rows["good"] == {
        "name": "good",
        "version": "1.2.3",
        "hooks": ["rr_register_recipes"],
        "distribution": "rr-good",
    }
    assert rows["core"]["hooks"] == ["rr_register_recipes"]


def test_load_order_is_files_then_entry_points_by_name(good: Path, tmp_path: Path) -> None:
    install_plugin(good, "rr-clash", {"clash": "rrtest_clash"}, {"rrtest_clash": CLASH})
    path = tmp_path / "mine.py"
    path.write_text(CLASH.replace("other_greet", "mine"), encoding="utf-8")
    plugins = load_plugins([path])
    # The -F file's recipe wins over the installed ones, which are left out and listed as such.
    assert plugins.registry.clashes() == {}
    assert plugins.registry.get("greet.manual").plugin == str(path)
    assert plugins.registry.overrides == [
        ("greet.manual", str(path), "clash"),
        ("greet.manual", str(path), "good"),
    ]
    order = [p.name for p in plugins.infos]
    assert order[0] == str(path)
    assert order[1:] == sorted(order[1:])


def test_a_file_plugin_is_disabled_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.py"
    path.write_text(CLASH.replace("greet.manual", "mine.only"), encoding="utf-8")
    assert "mine.only" in names(load_plugins([path]))
    monkeypatch.setenv("RR_DISABLE_PLUGINS", str(path))
    assert "mine.only" not in names(load_plugins([path]))
