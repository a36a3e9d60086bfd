"""A database held by another process never freezes the web view: static files and the page are
answered at once, and a request that needs the database waits `db_settings.timeout` at most,
then gets a 503 (on a real SQLite file and a real PostgreSQL server, with a real `rr run`)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.rr_process import rr_env, start_server

TIMEOUT = 1.5  # db_settings.timeout of the server under test


@contextmanager
def write_lock_held(db_url: str) -> Iterator[None]:
    """Another process's transaction holding the database's write lock (SQLite) or the lock of
    the tables every batch writes (PostgreSQL), until the block ends."""
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///") :], isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(db_url) as conn:
        conn.execute("LOCK TABLE claims, answers IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def timed_get(client: httpx.Client, path: str, **params: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path, params=params)
    return response, time.monotonic() - started


def test_a_locked_database_holds_up_only_the_requests_that_need_it(
    db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text("".join(json.dumps({"text": f"task {i}"}) + "\n" for i in range(100)))
    settings: dict[str, Any] = {"timeout": TIMEOUT}
    if db_url.startswith("sqlite:///"):
        settings["path"] = db_url[len("sqlite:///") :]
    env = rr_env(tmp_path / "home", db_url, batch_size=5, db_settings=settings)
    server = start_server(["mark", "ds", str(source)], env, tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert len(client.get("/api/questions", params={"session": "a"}).json()["tasks"]) == 5
            waiting: list[tuple[httpx.Response, float]] = []
            with write_lock_held(db_url):
                asking = threading.Thread(
                    target=lambda: waiting.append(timed_get(client, "/api/questions", session="b"))
                )
                asking.start()
                time.sleep(0.3)  # the request for session b now waits on the database
                assert asking.is_alive()
                script, script_took = timed_get(client, "/static/app.js")
                page, page_took = timed_get(client, "/")
                asking.join(timeout=30)
            assert script.status_code == 200 and page.status_code == 200
            assert script_took < 0.5 and page_took < 0.5, (script_took, page_took)
            ((blocked, blocked_took),) = waiting
            assert blocked.status_code == 503
            assert TIMEOUT - 0.3 <= blocked_took < TIMEOUT + 3, blocked_took
            assert "Try again" in blocked.json()["detail"] or "again" in blocked.json()["detail"]
            # The lock gone, the same session is served, and nothing was lost meanwhile.
            again = client.get("/api/questions", params={"session": "b"})
            assert again.status_code == 200 and len(again.json()["tasks"]) == 5
    finally:
        server.stop()
    assert any("Warning: the database" in line for line in server.stderr), server.stderr
    assert not any("Traceback" in line for line in server.stderr), server.stderr
