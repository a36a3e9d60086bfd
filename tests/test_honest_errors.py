"""Errors that say what happened: half-set auth, JSON bodies by one set of rules, oversized
batches, a broken database file, `rr db-in` by the rules of the API, stalled connections."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from recipe_runner.config import MAX_BATCH, load_config
from recipe_runner.db import Database
from recipe_runner.db.outages import broken_error
from recipe_runner.errors import ConfigError
from recipe_runner.serve import BODY_PAUSE_TIMEOUT, HEADER_TIMEOUT

from .conftest import NEWS
from .rr_process import rr_env, servers, start_server
from .rr_process import run_rr as rr
from .webserver import LiveServer, live_server


def news_mark(dataset: str = "news") -> dict[str, Any]:
    from recipe_runner.loaders import get_stream

    return {"dataset": dataset, "stream": get_stream(NEWS), "view_id": "text"}


@pytest.fixture
def news() -> Any:
    with live_server(news_mark) as server:
        yield server


def post(server: LiveServer, body: bytes) -> httpx.Response:
    return httpx.post(
        server.url + "/api/answers",
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )


# basic auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("user", "password", "named"),
    [
        ("ann", None, "RR_BASIC_AUTH_PASS"),
        (None, "s3cret", "RR_BASIC_AUTH_USER"),
        ("ann", "", "RR_BASIC_AUTH_PASS"),
        ("", "s3cret", "RR_BASIC_AUTH_USER"),
    ],
)
def test_half_set_basic_auth_stops_rr_run_with_one_line(
    tmp_path: Path, user: str | None, password: str | None, named: str
) -> None:
    env = rr_env(tmp_path / "home")
    if user is not None:
        env["RR_BASIC_AUTH_USER"] = user
    if password is not None:
        env["RR_BASIC_AUTH_PASS"] = password
    result = rr("run", "--port", "0", "mark", "news", str(NEWS), env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Serving" not in result.stderr
    assert not (tmp_path / "home" / "rr.db").exists()  # stopped before anything started


# one JSON parser for every body ---------------------------------------------------------------
ANSWER = b'{"text": "t", "answer": "accept"'
# Over 4,096 brackets but two levels deep: such bodies once went to a laxer parser.
MANY_BRACKETS = b', "meta": {"l": [' + b",".join([b"[]"] * 5000) + b"]}"
NOT_JSON = {
    "NaN": ANSWER + b', "score": NaN}',
    "Infinity": ANSWER + b', "score": Infinity}',
    "1e400": ANSWER + b', "score": 1e400}',
    "a lone surrogate": ANSWER + b', "note": "\\ud800"}',
    "a lone surrogate, long number": ANSWER + b', "n": 12345678901234567890, "s": "\\udfff"}',
}


def body(*answers: bytes) -> bytes:
    return b'{"session": "s", "answers": [' + b",".join(answers) + b"]}"


@pytest.mark.parametrize("name", NOT_JSON)
@pytest.mark.parametrize("brackets", [b"", MANY_BRACKETS], ids=["plain", "many brackets"])
def test_bodies_that_are_not_json_are_a_json_422(
    news: LiveServer, name: str, brackets: bytes
) -> None:
    bad = NOT_JSON[name][:-1] + brackets + b"}"
    reply = post(news, body(bad))
    assert reply.status_code == 422 and reply.headers["content-type"] == "application/json"
    assert "not JSON" in reply.json()["detail"]
    assert news.answers() == []


def test_a_body_with_many_brackets_is_read_by_the_same_parser(news: LiveServer) -> None:
    reply = post(news, body(ANSWER + MANY_BRACKETS + b"}"))
    assert reply.status_code == 200 and reply.json()["saved"] == 1


def test_a_utf16_body_is_refused(news: LiveServer) -> None:
    reply = post(news, body(ANSWER + b"}").decode().encode("utf-16"))
    assert reply.status_code == 422 and "not JSON" in reply.json()["detail"]
    assert news.answers() == []


def test_db_out_writes_valid_json_for_floats_json_cannot_hold(tmp_path: Path) -> None:
    # A Python recipe (here: the database API) may hand over NaN or Infinity.
    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = Database(url)
    db.save_answers(
        "ds",
        [
            {
                "text": "t",
                "answer": "accept",
                "_input_hash": 1,
                "_task_hash": 2,
                "_session_id": "ds-x",
                "score": float("nan"),
                "f": [float("-inf")],
            }
        ],
    )
    db.close()
    env = rr_env(tmp_path / "home", url)
    out = rr("db-out", "ds", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    exported = [orjson.loads(line) for line in out.stdout.splitlines()]  # strict JSON
    assert exported[0]["score"] is None and exported[0]["f"] == [None]


def test_answers_nest_at_most_64_levels(news: LiveServer) -> None:
    # The answer object is the first level: 63 lists inside it make 64, one more is refused.
    def nested(levels: int) -> bytes:
        return ANSWER + b', "m": ' + b"[" * levels + b"]" * levels + b"}"

    refused = post(news, body(nested(64)))  # a 400, or its reason among the batch's errors
    assert "64 levels" in refused.text
    assert news.answers() == []
    assert post(news, body(nested(63))).json()["saved"] == 1


# oversized batches and broken database files ---------------------------------------------------
def test_a_batch_over_the_limit_is_a_413_naming_it(news: LiveServer) -> None:
    one = b'{"text": "t%d", "answer": "accept"}'
    reply = post(news, body(*(one % i for i in range(MAX_BATCH + 1))))
    assert reply.status_code == 413
    assert f"{MAX_BATCH:,}" in reply.json()["detail"]
    assert news.answers() == []
    reply = post(news, body(*(one % i for i in range(MAX_BATCH))))
    assert reply.status_code == 200 and reply.json()["saved"] == MAX_BATCH


def test_batch_size_over_the_limit_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", json.dumps({"batch_size": MAX_BATCH + 1}))
    with pytest.raises(ConfigError, match="batch_size"):
        load_config()
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", json.dumps({"batch_size": MAX_BATCH}))
    assert load_config()["batch_size"] == MAX_BATCH


def test_a_read_only_database_is_a_500_that_says_so(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ro.db'}")
    db.dataset_id("news", create=True)  # the schema and dataset, written while it could be
    db.close()
    env = rr_env(tmp_path / "home")
    env["RR_DB_URL"] = f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"
    # A run that must create its dataset stops at start, in one line.
    result = rr("run", "--port", "0", "mark", "other", str(NEWS), env=env, cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "read-only" in result.stderr
    with servers() as started:
        server = start_server(["mark", "news", str(NEWS)], env, tmp_path)
        started.append(server)
        for reply in (
            httpx.get(server.url + "/api/questions?session=a", timeout=30),
            httpx.post(
                server.url + "/api/answers",
                json={"answers": [{"text": "t", "answer": "accept"}]},
                timeout=30,
            ),
        ):
            assert reply.status_code == 500
            assert (
                "read-only" in reply.json()["detail"]
                and "retrying won't help" in reply.json()["detail"]
            )
        server.stop()
    assert any("read-only" in line for line in server.stderr)


def test_a_corrupt_database_file_is_a_permanent_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database, not at all. " * 200)
    with pytest.raises(sqlite3.DatabaseError) as err:
        sqlite3.connect(bad).execute("SELECT 1 FROM sqlite_master").fetchall()
    broken = broken_error(err.value)
    assert broken is not None and "not a database" in str(broken)
    assert "retrying won't help" in str(broken)
    assert broken_error(sqlite3.OperationalError("database is locked")) is None  # an outage


# rr db-in: the rules of the API -----------------------------------------------------------
GOOD_LINE = '{"text": "fine", "answer": "accept"}'
REFUSED = {
    "text a number": ('{"text": 12345, "answer": "accept"}', "'text' must be a string"),
    "no input key": ('{"label": "X", "answer": "accept"}', "has no 'text'"),
    "session a path": ('{"text": "a", "_session_id": "../../x"}', "not a session id"),
    "hash over 64 bits": ('{"text": "a", "_task_hash": 18446744073709551616}', "64 bits"),
    "lone surrogate": ('{"text": "a \\ud800"}', "surrogate"),
    "nested 100 deep": ('{"text": "a", "m": ' + "[" * 100 + "]" * 100 + "}", "64 levels"),
    "nested 100,000 deep": ('{"text": "a", "m": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
    "NaN": ('{"text": "a", "score": NaN}', "NaN"),
    "verdict": ('{"text": "a", "answer": "maybe"}', "accept, reject or ignore"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_db_in_refuses_what_the_api_refuses_in_one_line(tmp_path: Path, name: str) -> None:
    line, why = REFUSED[name]
    source = tmp_path / "answers.jsonl"
    source.write_text(GOOD_LINE + "\n" + line + "\n" + GOOD_LINE.replace("fine", "also") + "\n")
    env = rr_env(tmp_path / "home")
    result = rr("db-in", "ds", str(source), env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "answers.jsonl' line 2" in lines[0] and why in lines[0]
    assert "nothing was imported" in lines[0] and "--skip-invalid" not in lines[0]
    # All or nothing: not even the good first line is stored.
    stats = rr("stats", "--json", env=env, cwd=tmp_path)
    assert json.loads(stats.stdout) == []


# stalled connections ----------------------------------------------------------------------
POST_HEAD = (
    b"POST /api/answers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n"
)


def test_half_sent_and_silent_connections_are_closed_within_the_bound(tmp_path: Path) -> None:
    env = rr_env(tmp_path / "home")
    with servers() as started:
        server = start_server(["mark", "news", str(NEWS)], env, tmp_path)
        started.append(server)
        host, port = server.url.removeprefix("http://").rstrip("/").split(":")
        stalled: list[socket.socket] = []
        for i in range(40):
            sock = socket.create_connection((host, int(port)), timeout=5)
            if i % 4 == 1:  # part of the headers
                sock.sendall(b"GET /api/project HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            elif i % 4 == 2:  # the headers, and part of the body they announce
                sock.sendall(POST_HEAD + b'{"answers": [')
            elif i % 4 == 3:  # one byte
                sock.sendall(b"P")
            stalled.append(sock)  # and every fourth sends nothing at all
        opened = time.monotonic()
        # A client that keeps going meanwhile is served as usual.
        assert httpx.get(server.url + "/api/project", timeout=10).status_code == 200
        closed_after = []
        for sock in stalled:
            sock.settimeout(max(0.1, opened + HEADER_TIMEOUT + 10 - time.monotonic()))
            try:
                data = sock.recv(1024)
            except TimeoutError:
                data = b"still open"
            except ConnectionResetError:
                data = b""
            assert data == b"", "a stalled connection was not closed in time"
            closed_after.append(time.monotonic() - opened)
            sock.close()
        assert min(closed_after) >= HEADER_TIMEOUT - 1
        assert max(closed_after) <= max(HEADER_TIMEOUT, BODY_PAUSE_TIMEOUT) + 10
        # And a keep-alive connection left idle after its response is closed too.
        idle = socket.create_connection((host, int(port)), timeout=5)
        idle.sendall(b"GET /api/project HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        idle.settimeout(HEADER_TIMEOUT + 10)
        received = b""
        while True:
            chunk = idle.recv(65536)
            if not chunk:
                break
            received += chunk
        assert received.startswith(b"HTTP/1.1 200")
        idle.close()
