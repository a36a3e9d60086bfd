"""Walls kept by reading the code: plugins use only the public API, every public name is
documented for recipe authors, and the Prodigy compatibility layer has the names it promises."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import recipe_runner

from .conftest import REPO

PLUGIN_FILES = sorted(
    p for p in (REPO / "plugins").rglob("*.py") if "tests" not in p.relative_to(REPO).parts
)


def recipe_runner_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of recipe_runner in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "recipe_runner":
                found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "recipe_runner":
                    found.append((node.lineno, alias.name, []))
    return found


def test_plugins_import_only_public_names() -> None:
    assert PLUGIN_FILES, "no plugin files found"
    public = set(recipe_runner.__all__)
    wrong = []
    for path in PLUGIN_FILES:
        for line, module, names in recipe_runner_imports(path):
            where = f"{path.relative_to(REPO)}:{line}"
            if module != "recipe_runner":
                wrong.append(f"{where} imports {module}: import from recipe_runner itself")
            wrong += [f"{where} imports {n}, not public" for n in names if n not in public]
    assert wrong == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    path = tmp_path / "plugin.py"
    path.write_text("from recipe_runner.loaders import Stream\nfrom recipe_runner import recipe\n")
    assert recipe_runner_imports(path) == [
        (1, "recipe_runner.loaders", ["Stream"]),
        (2, "recipe_runner", ["recipe"]),
    ]


def test_every_public_name_is_documented_for_recipe_authors() -> None:
    guide = (REPO / "docs" / "recipes.md").read_text(encoding="utf8")
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", guide))
    missing = sorted(set(recipe_runner.__all__) - documented)
    assert missing == []


def test_every_public_name_resolves() -> None:
    for name in recipe_runner.__all__:
        assert getattr(recipe_runner, name) is not None
    assert sorted(recipe_runner.__all__) == sorted(set(recipe_runner.__all__))
    assert sorted(dir(recipe_runner)) == sorted(recipe_runner.__all__)


PRODIGY_NAMES = {
    "": ["recipe", "get_stream", "set_hashes", "log"],
    "components.loaders": ["JSONL", "JSON", "CSV", "TXT", "get_stream"],
    "components.preprocess": [
        "add_tokens", "split_sentences", "split_spans", "add_label_options", "add_labels_to_stream",
        "make_raw_doc", "msg",
    ],
    "components.sorters": [
        "prefer_uncertain", "prefer_high_scores", "prefer_low_scores", "Probability",
    ],
    "components.stream": ["get_stream"],
    "components.db": ["connect", "Database"],
    "models.textcat": ["TextClassifier", "infer_exclusive"],
    "models.ner": ["EntityRecognizer"],
    "models.matcher": ["PatternMatcher"],
    "util": ["split_string", "get_labels", "set_hashes", "combine_models", "log", "msg"],
    "core": ["Arg", "Controller", "recipe"],
    "types": ["TaskType", "StreamType"],
    "protocols": ["Model", "ControllerProtocol", "ControllerComponentsDict"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PRODIGY_NAMES))
def test_the_prodigy_layer_has_prodigys_names(module: str) -> None:
    name = "recipe_runner.compat.prodigy" + (f".{module}" if module else "")
    found = importlib.import_module(name)
    for attr in PRODIGY_NAMES[module]:
        assert hasattr(found, attr), f"{name}.{attr}"


def test_the_migration_guide_lists_every_mapped_name() -> None:
    guide = (REPO / "docs" / "migrating-from-prodigy.md").read_text(encoding="utf8")
    for module, names in PRODIGY_NAMES.items():
        for attr in names:
            dotted = f"prodigy.{module}.{attr}" if module else f"prodigy.{attr}"
            assert dotted in guide, dotted
