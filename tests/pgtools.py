"""PostgreSQL for tests: a fresh schema per test on the server RR_TEST_POSTGRES_URL names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

SKIP_REASON = (
    "RR_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test)"
)


def server_url() -> str | None:
    return os.environ.get("RR_TEST_POSTGRES_URL") or None


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def with_search_path(url: str, schema: str) -> str:
    """The URL with libpq's `options` setting the search_path, so every connection (of this
    process or of a subprocess given the URL) sees only that schema."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    """A new, empty schema for one test; the URL whose connections use it. Dropped after."""
    from sqlalchemy import create_engine, text

    schema = f"rr_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(sqlalchemy_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield with_search_path(base, schema)
        finally:
            with admin.connect() as conn:
                # A test that leaks an open transaction fails here rather than hanging.
                conn.execute(text("SET lock_timeout = '20s'"))
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
