"""The page in a real Chromium when the database file can't be written: it says so, and stops."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.test_browser import browser, open_page, shown_text  # noqa: F401 - fixtures
from tests.test_server_api import news_mark
from tests.webserver import live_server

pytestmark = pytest.mark.browser


def test_a_read_only_database_is_shown_and_not_retried(open_page: Any) -> None:  # noqa: F811
    with live_server(news_mark) as server:
        page = open_page(server)
        # From now on SQLite refuses every write on the server's connection, as it does for a
        # file opened read-only ("attempt to write a readonly database").
        assert server.controller.db is not None
        fast: Any = server.controller.db.driver  # SQLite's: FastSQLite
        assert fast is not None
        with fast._lock:
            fast._connection().execute("PRAGMA query_only = ON")
        for _ in range(10):  # one batch
            before = shown_text(page)
            page.keyboard.press("a")
            page.wait_for_function(
                "text => document.getElementById('content').innerText.trim() !== text", arg=before
            )
        page.wait_for_selector("#message.invalid")
        assert "read-only" in page.inner_text("#message")
        # A transient outage (503) is retried every 2 s; this is not.
        time.sleep(5)
        sent = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/answers'))"
            ".map(e => e.responseStatus)"
        )
        assert sent == [500]
        assert server.answers() == []
