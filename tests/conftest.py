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
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections see a fresh, empty schema; skips without a server."""
    from tests.pgtools import SKIP_REASON, fresh_schema, server_url

    base = server_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    with fresh_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL of each backend: a real SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'answers.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def news_path() -> Path:
    return NEWS


@pytest.fixture
def data_dir() -> Path:
    return DATA
