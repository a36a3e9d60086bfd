"""Hostile requests against a real `rr run` server: generated from its OpenAPI schema and written
by hand. Never a 5xx, and a rejected request changes nothing in the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from .rr_process import RRServer, rr_env, servers, start_server
from .test_crash import write_source


class Live:
    """The server and a read-only look at its database."""

    def __init__(self, server: RRServer, db: Path) -> None:
        self.server, self.url, self.db = server, server.url, db

    def state(self) -> tuple[Any, ...]:
        """Everything a request could change: answers, claims, datasets."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return tuple(
                conn.execute(query).fetchone()
                for query in (
                    "SELECT count(*), max(id), total(length(content)) FROM answers",
                    "SELECT count(*), max(id), total(claimed_at) FROM claims",
                    "SELECT count(*), max(id) FROM datasets",
                )
            )

    def stored(self, text: str) -> list[dict[str, Any]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT content FROM answers").fetchall()
        return [a for a in (json.loads(r[0]) for r in rows) if a.get("text") == text]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz")
    source = write_source(tmp / "tasks.jsonl", 2000)
    db = tmp / "fuzz.db"
    env = rr_env(tmp / "home", f"sqlite:///{db}", batch_size=3)
    with servers() as started:
        started.append(start_server(["mark", "ds", str(source)], env, tmp))
        yield Live(started[0], db)
        assert not any("Traceback" in line for line in started[0].stderr), "\n".join(
            started[0].stderr
        )


@pytest.fixture
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_generated_requests_never_get_a_server_error(case: Any, live: Live) -> None:
    before = live.state()
    response = case.call(base_url=live.url, timeout=30)
    assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
    if response.status_code >= 400:
        assert live.state() == before, case.as_curl_command()
        assert "detail" in response.json()


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _answer(**extra: Any) -> dict[str, Any]:
    return {"text": "hand-made", "answer": "accept", **extra}


# name -> (method, path, body: bytes or JSON-able or None, content type)
REJECTED: dict[str, tuple[str, str, Any, str]] = {
    "oversized body": ("POST", "/api/answers", b'{"answers": ["' + b"x" * 33_554_500 + b'"]}', ""),
    "deep JSON": ("POST", "/api/answers", b'{"answers": ' + _deep(200_000) + b"}", ""),
    "deep answer": (
        "POST",
        "/api/answers",
        b'{"answers": [{"text": "d", "answer": "accept", "meta": ' + _deep(900) + b"}]}",
        "",
    ),
    "invalid UTF-8": ("POST", "/api/answers", b'{"session": "a\xff", "answers": []}', ""),
    "not JSON": ("POST", "/api/answers", b"answers=1", ""),
    "empty body": ("POST", "/api/answers", b"", ""),
    "a list": ("POST", "/api/answers", [_answer()], ""),
    "answers not a list": ("POST", "/api/answers", {"answers": {"0": _answer()}}, ""),
    "answer not an object": ("POST", "/api/answers", {"answers": [_answer(), "accept"]}, ""),
    "unknown verdict": ("POST", "/api/answers", {"answers": [_answer(answer="yes")]}, ""),
    "hash a string": ("POST", "/api/answers", {"answers": [_answer(_task_hash="1")]}, ""),
    "hash over 64 bits": ("POST", "/api/answers", {"answers": [_answer(_task_hash=2**63)]}, ""),
    "hash a float": ("POST", "/api/answers", {"answers": [_answer(_input_hash=1.5)]}, ""),
    "text a number": ("POST", "/api/answers", {"answers": [_answer(text=5)]}, ""),
    "no text": ("POST", "/api/answers", {"answers": [{"answer": "accept", "label": "X"}]}, ""),
    "NaN": ("POST", "/api/answers", b'{"answers": [{"text": "n", "answer": NaN}]}', ""),
    "session a number": ("POST", "/api/answers", {"session": 7, "answers": []}, ""),
    "session with a slash": (
        "POST",
        "/api/answers",
        {"session": "../x", "answers": [_answer()]},
        "",
    ),
    "session with NUL": ("GET", "/api/questions?session=a%00b", None, ""),
    "session bad UTF-8": ("GET", "/api/questions?session=%ff%fe", None, ""),
    "session too long": ("GET", "/api/questions?session=" + "s" * 500, None, ""),
    "fresh not a bool": ("GET", "/api/questions?session=a&fresh=perhaps", None, ""),
    "stats bad session": ("GET", "/api/stats?session=-x", None, ""),
    "progress bad session": ("GET", "/api/progress?session=a%20b", None, ""),
    "a form": ("POST", "/api/answers", b"session=a", "application/x-www-form-urlencoded"),
}


# Requests whose body is well formed, each answer of which is refused on its own: a 200 that
# lists it under "refused" (its neighbours, had it any, would be saved).
ANSWERS_REFUSED = {
    "deep answer",
    "unknown verdict",
    "hash a string",
    "hash over 64 bits",
    "hash a float",
    "text a number",
    "no text",
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_hostile_requests_are_refused_and_change_nothing(live: Live, case: str) -> None:
    method, path, body, content_type = REJECTED[case]
    before = live.state()
    content = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    headers = {"content-type": content_type or "application/json"}
    with httpx.Client(timeout=60) as client:
        response = client.request(method, live.url + path, content=content, headers=headers)
    if case in ANSWERS_REFUSED:
        assert response.status_code == 200, response.text[:300]
        reply = response.json()
        assert reply["saved"] == 0 and [r["index"] for r in reply["refused"]] == [0]
    else:
        assert 400 <= response.status_code < 500, response.text[:300]
        assert isinstance(response.json()["detail"], str | list)
    assert live.state() == before


def test_an_oversized_body_is_refused_without_being_read_whole(live: Live) -> None:
    def peak_memory() -> int:  # the server's high-water mark of resident memory, in kB
        status = Path(f"/proc/{live.server.proc.pid}/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0])

    before_state, before_peak = live.state(), peak_memory()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size shows only while reading
        yield b'{"answers": ["'
        for _ in range(256):
            yield b"x" * (1024 * 1024)
        yield b'"]}'

    with httpx.Client(timeout=60) as client:
        try:
            response = client.post(
                live.url + "/api/answers",
                content=chunks(),
                headers={"content-type": "application/json"},
            )
        except httpx.TransportError:  # the server may close the upload once it has answered
            response = None
    if response is not None:
        assert response.status_code == 413 and "over" in response.json()["detail"]
    assert peak_memory() - before_peak < 128 * 1024  # 256 MiB were sent
    assert live.state() == before_state
    with httpx.Client(base_url=live.url, timeout=30) as client:  # and it still serves
        assert client.get("/api/stats", params={"session": "after"}).status_code == 200


def test_answers_for_tasks_never_served_are_stored_once(live: Live) -> None:
    # Prodigy-style: a well-formed answer is an answer, served or not (the database then
    # counts that task as answered); a retry stores nothing.
    body = {"session": "stranger", "answers": [_answer(text="task number 1999")]}
    with httpx.Client(base_url=live.url, timeout=30) as client:
        first = client.post("/api/answers", json=body).json()
        again = client.post("/api/answers", json=body).json()
    assert (first["saved"], again["saved"]) == (1, 0)
    assert [a["_session_id"] for a in live.stored("task number 1999")] == ["ds-stranger"]


def test_unknown_sessions_are_new_sessions(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        stats = client.get("/api/stats", params={"session": "nobody-yet"}).json()
        assert stats["session"] == {"accept": 0, "reject": 0, "ignore": 0, "total": 0}
        progress = client.get("/api/progress", params={"session": "nobody-yet"})
        assert progress.status_code == 200
