"""Every test gets its own RR_HOME and working directory, so none touches a real home directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def rr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "rr_home"
    home.mkdir()
    monkeypatch.setenv("RR_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RR_") and name != "RR_HOME":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield home
