"""`rr run` serving the web view as a real process: its URL, a port in use, Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import NEWS

RECIPE = '''
from pathlib import Path
from recipe_runner import recipe
from recipe_runner.loaders import get_stream


@recipe("lifecycle")
def lifecycle(dataset: str, source: str, marker: str):
    """Mark tasks and note when on_exit runs."""

    def on_exit(controller):
        Path(marker).write_text(f"closed {controller.stats()['dataset']['total']}")

    return {"dataset": dataset, "stream": get_stream(source), "view_id": "text", "on_exit": on_exit}
'''


def rr(*args: str) -> list[str]:
    return [sys.executable, "-m", "recipe_runner", *args]


@contextmanager
def served(
    tmp_path: Path, *options: str, recipe: tuple[str, str] = ("lifecycle", RECIPE)
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`rr run` of a recipe (name, code) writing to marker.txt, on a free port; yields the
    process and the URL it printed."""
    (tmp_path / "recipe.py").write_text(recipe[1])
    command = rr("run", "--port", "0", *options, "-F", str(tmp_path / "recipe.py"), recipe[0])
    command += ["news", str(NEWS), str(tmp_path / "marker.txt")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        url = wait_for_url(process)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def wait_for_url(process: subprocess.Popen[str], timeout: float = 30) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = process.stderr.readline()
                if not line:
                    break
                seen.append(line)
                if "http://" in line:
                    return line[line.index("http://") :].split()[0].rstrip("/")
    raise AssertionError(f"rr run printed no URL: {''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly_and_runs_on_exit(tmp_path: Path, sig: int) -> None:
    with served(tmp_path) as (process, url):
        assert url.startswith("http://127.0.0.1:")
        tasks = httpx.get(url + "/api/questions", params={"session": "s"}).json()["tasks"]
        answers = [{**t, "answer": "accept"} for t in tasks[:4]]
        reply = httpx.post(url + "/api/answers", json={"session": "s", "answers": answers})
        assert reply.json()["saved"] == 4
        process.send_signal(sig)
        assert process.wait(20) == 0
        assert process.stderr is not None
        rest = process.stderr.read()
    assert "Traceback" not in rest
    assert "Stopped" in rest
    assert (tmp_path / "marker.txt").read_text() == "closed 4"
    out = subprocess.run(rr("db-out", "news"), capture_output=True, text=True, check=True)
    assert len(out.stdout.splitlines()) == 4


def test_replies_without_a_body_come_back_on_a_kept_alive_connection(tmp_path: Path) -> None:
    # HEAD and 405 replies have no body to follow their head: the server must send them all the
    # same, and the connection must serve the next request. The timeout is below uvicorn's 5 s
    # keep-alive limit, whose closing of the connection would otherwise deliver a held reply.
    with served(tmp_path) as (_, url), httpx.Client(base_url=url, timeout=3) as client:
        for path in ("/", "/api/project", "/api/questions?session=s"):
            head = client.head(path)
            assert head.status_code in (200, 405), path
            assert head.content == b""
        assert client.get("/api/project").json()["recipe"] == "lifecycle"
        assert client.get("/api/questions", params={"session": "s"}).json()["tasks"]


HEAP_RECIPE = '''
import gc
from pathlib import Path
from recipe_runner import recipe
from recipe_runner.loaders import get_stream


@recipe("heap")
def heap(dataset: str, source: str, marker: str):
    """Note, at the end, how many objects the garbage collector leaves out of its passes."""

    def on_exit(controller):
        Path(marker).write_text(str(gc.get_freeze_count()))

    return {"dataset": dataset, "stream": get_stream(source), "view_id": "text", "on_exit": on_exit}
'''


def test_what_start_up_made_is_left_out_of_the_collectors_full_passes(tmp_path: Path) -> None:
    # A full pass walks every object the collector tracks, during which no request is
    # answered: the modules, the app and a recipe's model are never garbage.
    with served(tmp_path, recipe=("heap", HEAP_RECIPE)) as (process, url):
        assert httpx.get(url + "/api/questions", params={"session": "s"}).json()["tasks"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    assert (
        int((tmp_path / "marker.txt").read_text()) > 10_000
    )  # the imports alone are tens of thousands


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "recipe.py").write_text(RECIPE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--port", str(port), "-F", str(tmp_path / "recipe.py"), "lifecycle", "news"]
        result = subprocess.run(
            rr("run", *args, str(NEWS), str(tmp_path / "marker.txt")),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Error: Port {port} on 127.0.0.1 is already in use: stop the other server or choose "
        "another port with --port or RR_PORT."
    ]
    # The port is taken before the database is opened: the run never started, so no dataset
    # was created and there was nothing for on_exit to close.
    assert not (tmp_path / "marker.txt").exists()
    stats = subprocess.run(rr("stats", "--json"), capture_output=True, text=True, check=True)
    assert "news" not in stats.stdout


def test_the_host_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_HOST", "localhost")
    with served(tmp_path) as (process, url):
        assert "127.0.0.1" in url or "[::1]" in url
        assert httpx.get(url + "/api/project").json()["recipe"] == "lifecycle"
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


@contextmanager
def own_database(admin_url: str) -> Iterator[tuple[str, Any]]:
    """A new PostgreSQL database (so that connections to it can be refused without touching
    other tests'); its URL and a callable that opens (True) or closes (False) it."""
    from sqlalchemy import create_engine, text

    from tests.pgtools import sqlalchemy_url

    name = f"rr_outage_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(admin_url)
    admin = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")

    def allow(yes: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(yes).lower()}'))
            if not yes:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )

    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield urlunsplit(parts._replace(path=f"/{name}")), allow
        finally:
            allow(False)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


@pytest.fixture
def switchable_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """RR_DB_URL set to a PostgreSQL database of the test's own; yields the switch that opens
    (True) or refuses (False) its connections. Skips without a server."""
    from tests.pgtools import SKIP_REASON, server_url

    base = server_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    with own_database(base) as (db_url, allow):
        monkeypatch.setenv("RR_DB_URL", db_url)
        yield allow


@pytest.mark.postgres
def test_an_unreachable_database_is_a_503_and_the_retried_batch_is_saved(
    tmp_path: Path, switchable_db: Callable[[bool], None]
) -> None:
    allow = switchable_db
    with served(tmp_path) as (process, url), httpx.Client(base_url=url, timeout=30) as client:
        tasks = client.get("/api/questions", params={"session": "s"}).json()["tasks"]
        answers = {"session": "s", "answers": [{**t, "answer": "accept"} for t in tasks[:3]]}
        allow(False)
        down = client.post("/api/answers", json=answers)
        assert down.status_code == 503
        assert "nothing was saved" in down.json()["detail"]
        allow(True)
        up = client.post("/api/answers", json=answers)
        assert up.status_code == 200
        assert up.json()["saved"] == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert process.stderr is not None
        rest = process.stderr.read()
    out = subprocess.run(rr("db-out", "news"), capture_output=True, text=True, check=True)
    assert "Warning: the database can't be reached" in rest
    assert "Traceback" not in rest
    assert len(out.stdout.splitlines()) == 3


@pytest.mark.postgres
def test_tasks_read_while_the_database_is_down_are_served_once_it_is_back(
    tmp_path: Path, switchable_db: Callable[[bool], None]
) -> None:
    from recipe_runner.hashing import set_hashes

    allow = switchable_db
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    expected = {set_hashes(json.loads(line))["_task_hash"] for line in lines if line.strip()}
    with served(tmp_path) as (process, url), httpx.Client(base_url=url, timeout=30) as client:

        def answer_a_batch() -> int:
            tasks = client.get("/api/questions", params={"session": "s"}).json()["tasks"]
            answers = [{**t, "answer": "accept"} for t in tasks]
            reply = client.post("/api/answers", json={"session": "s", "answers": answers})
            assert reply.status_code == 200
            return len(tasks)

        assert answer_a_batch() > 0
        allow(False)
        assert client.get("/api/questions", params={"session": "s"}).status_code == 503
        allow(True)
        for _ in range(len(expected)):
            if not answer_a_batch():
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    out = subprocess.run(rr("db-out", "news"), capture_output=True, text=True, check=True)
    saved = [json.loads(line)["_task_hash"] for line in out.stdout.splitlines()]
    assert sorted(saved) == sorted(expected)
