"""Shared fixtures: every test gets its own RR_HOME, so none touches a real home directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
NEWS = DATA / "prodigy_examples" / "news_headlines.jsonl"


@pytest.fixture(autouse=True)
def rr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty RR_HOME and working directory; no env var of the user's leaks in."""
    home = tmp_path / "rr_home"
    home.mkdir()
    monkeypatch.setenv("RR_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RR_") and name not in ("RR_HOME", "RR_TEST_POSTGRES_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield home


@pytest.fixture
def news_path() -> Path:
    return NEWS


@pytest.fixture
def data_dir() -> Path:
    return DATA
