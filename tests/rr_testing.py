"""Helpers for the core tests: the real `rr` entry point in process, and test plugin packages."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from recipe_runner.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def rr_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> Result:
    """Run `rr ARGS` through the console script's own `main` (the error boundary), in process."""
    monkeypatch.setattr(sys, "argv", ["rr", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def install_plugin(
    site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A distribution with `recipe_runner` entry points and its modules, in folder `site`
    (which the caller puts on sys.path): what `pip install` would leave behind."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n", encoding="utf-8"
    )
    lines = ["[recipe_runner]", *(f"{name} = {target}" for name, target in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


def forget_modules(*names: str) -> None:
    for name in names:
        sys.modules.pop(name, None)
