"""The project's own promises: lint and types clean, README and CI in step, config documented."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from recipe_runner.config import SCHEMA

from .conftest import REPO


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run the tests", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", section, re.S)
    assert command is not None
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert command.group(1).strip() in ci.splitlines()


def test_default_config_file_lists_every_key_with_its_default() -> None:
    written = json.loads((REPO / "config" / "rr.json").read_text(encoding="utf-8"))
    assert set(written) == set(SCHEMA)
    for key, value in written.items():
        assert SCHEMA[key][0] == value, key
    doc = (REPO / "config" / "README.md").read_text(encoding="utf-8")
    for key in SCHEMA:
        assert f"`{key}`" in doc, key


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_quality(command: list[str]) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _requirement_name(spec: str) -> str:
    name = re.split(r"[\s;\[<>=!~]", spec.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_dependency_of_the_tests_is_pinned_in_constraints() -> None:
    # The README's test command installs with -c constraints.txt: a dependency missing here would
    # float to whatever the registry serves that day, as pytest 9 once did.
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"]]
    for extra in ("test", "postgresql"):
        wanted += project["optional-dependencies"][extra]
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            pins[_requirement_name(name)] = version
    for spec in wanted:
        name = _requirement_name(spec)
        if name == "recipe-runner":
            continue
        assert name in pins, f"{name} ({spec}) has no pin in constraints.txt"
