"""rr-hello: its recipes as plain functions, headless, and found through its real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import srsly

from recipe_runner import run_headless
from recipe_runner.plugins import load_plugins

try:
    import rr_hello
except ImportError:  # a failure, not a skip: the plugin must be found as a user would find it
    pytest.fail("rr-hello is not installed: pip install ./plugins/rr-hello", pytrace=False)

TEXTS = ["Hello there", "The weather is bad", "hi, how are you?", "Quarterly report"]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "texts.jsonl"
    srsly.write_jsonl(path, [{"text": t} for t in TEXTS])
    return path


def rr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_hello_manual_returns_components(source: Path) -> None:
    components = rr_hello.hello_manual("greetings", str(source), label="HI")
    assert components["view_id"] == "classification"
    assert components["dataset"] == "greetings"
    tasks = list(components["stream"])
    assert [t["text"] for t in tasks] == TEXTS
    assert {t["label"] for t in tasks} == {"HI"}
    assert len(components["stream"]) == len(TEXTS)  # the length survives `map`


def test_hello_suggest_scores_greetings(source: Path) -> None:
    components = rr_hello.hello_suggest("greetings", str(source), only_greetings=True)
    tasks = list(components["stream"])
    assert [t["text"] for t in tasks] == ["Hello there", "hi, how are you?"]
    assert all(t["score"] == 0.9 for t in tasks)


def test_rr_recipes_lists_the_entry_point() -> None:
    result = rr("recipes", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["hello.manual"] == {
        "name": "hello.manual",
        "plugin": "hello",
        "summary": "Say yes or no to greetings.",
    }
    assert rows["hello.suggest"]["plugin"] == "hello"


def test_rr_plugins_shows_version_and_hook() -> None:
    result = rr("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["hello"]["version"] == rr_hello.__version__
    assert rows["hello"]["hooks"] == ["rr_register_recipes"]
    assert rows["hello"]["distribution"] == "rr-hello"


def test_disabled_by_entry_point_name() -> None:
    result = rr("recipes", "--json", env={"RR_DISABLE_PLUGINS": "hello"})
    assert result.returncode == 0, result.stderr
    names = {r["name"] for r in json.loads(result.stdout)}
    assert "hello.manual" not in names
    assert "mark" in names


def test_loaded_as_a_plugin_in_process() -> None:
    plugins = load_plugins()
    assert plugins.registry.get("hello.manual").plugin == "hello"
    assert plugins.registry.get("hello.manual").func is rr_hello.hello_manual


def test_runs_headless(source: Path) -> None:
    summary = run_headless(
        "hello.suggest", "greetings", str(source), answer="accept", show_progress=False
    )
    assert summary.saved == len(TEXTS)
    assert summary.counts == {"accept": len(TEXTS), "reject": 0, "ignore": 0}


def test_recipe_help_from_the_cli() -> None:
    result = rr("run", "hello.suggest", "--help")
    assert result.returncode == 0, result.stderr
    assert "Suggest the label" in result.stdout
    assert "--only-greetings" in result.stdout
