"""The project's own promises: lint and types clean, README and CI in step, config documented."""

from __future__ import annotations

import json
import re
import shutil
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
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_quality(command: list[str]) -> None:
    if command[0] == "ruff" and shutil.which("ruff") is None:
        pytest.skip("ruff is not installed: pip install -e '.[test]'")
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
