"""Who annotates what: `annotations_per_task` and task routers, across server processes on one
database (a SQLite file, PostgreSQL), durable across restarts."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import srsly

from recipe_runner import recipe
from recipe_runner.config import load_config
from recipe_runner.db import Database
from recipe_runner.routing import full_overlap, no_overlap, route_average_per_task
from tests.webserver import live_server

from .conftest import NEWS
from .rr_process import rr_env, servers, start_server

SESSIONS = ("ann", "bob", "cat")


def questions(url: str, session: str) -> list[dict[str, Any]]:
    reply = httpx.get(url + "/api/questions", params={"session": session}, timeout=30)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["tasks"])


def answer(url: str, session: str, tasks: list[dict[str, Any]]) -> None:
    body = {"session": session, "answers": [{**t, "answer": "accept"} for t in tasks]}
    reply = httpx.post(url + "/api/answers", json=body, timeout=30)
    assert reply.status_code == 200, reply.text


def stored(db_url: str, dataset: str) -> list[dict[str, Any]]:
    db = Database(db_url)
    try:
        return list(db.iter_answers(dataset))
    finally:
        db.close()


def work(urls: list[str], session: str, rounds: int, log: list[int]) -> None:
    """An annotator: asks the servers in turn, answers every batch at once."""
    for url in itertools.islice(itertools.cycle(urls), rounds):
        tasks = questions(url, session)
        log.append(len(tasks))
        if tasks:
            answer(url, session, tasks)


@pytest.mark.slow
def test_three_sessions_two_per_task_two_servers(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "tasks.jsonl"
    rows = list(srsly.read_jsonl(NEWS))[:60]
    srsly.write_jsonl(source, rows)
    env = rr_env(tmp_path / "home", db_url, batch_size=5, annotations_per_task=2)
    with servers() as started:
        for _ in range(2):
            started.append(start_server(["mark", "team", str(source)], env, tmp_path))
        urls = [s.url.rstrip("/") for s in started]
        logs: dict[str, list[int]] = {s: [] for s in SESSIONS}
        # Three annotators at once, each going back and forth between the two servers.
        threads = [
            threading.Thread(target=work, args=(urls if i % 2 else urls[::-1], s, 40, logs[s]))
            for i, s in enumerate(SESSIONS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(t.is_alive() for t in threads)
        # Everyone is done: nothing more for anyone, on either server.
        for url in urls:
            for session in SESSIONS:
                assert questions(url, session) == []
    answers = stored(db_url, "team")
    by_task: dict[int, list[str]] = {}
    for a in answers:
        by_task.setdefault(a["_task_hash"], []).append(a["_session_id"])
    assert len(by_task) == 60  # every task answered ...
    for sessions in by_task.values():
        assert len(sessions) == 2 == len(set(sessions))  # ... by exactly 2 distinct sessions
    load = Counter(a["_session_id"] for a in answers)
    assert sum(load.values()) == 120 and set(load) == {f"team-{s}" for s in SESSIONS}


@recipe("count.team")
def count_team(n: int = 12, router: str = "", exclude: str = "", **config: Any) -> dict[str, Any]:
    routers = {
        "": None,
        "no_overlap": no_overlap,
        "full_overlap": full_overlap,
        "average": route_average_per_task(1.5),
    }
    return {
        "dataset": "routed",
        "stream": [{"text": f"task {i}"} for i in range(n)],
        "view_id": "text",
        "task_router": routers[router],
        "exclude": [exclude] if exclude else [],
        "config": {"batch_size": 4, **config},
    }


def drain(server: Any, session: str) -> list[str]:
    """Answer everything the session is given; the texts, in order."""
    texts: list[str] = []
    while True:
        tasks = questions(server.url, session)
        if not tasks:
            return texts
        texts += [t["text"] for t in tasks]
        answer(server.url, session, tasks)


def test_fewer_sessions_than_n_tasks_wait_and_answered_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'r.db'}")
    with live_server(count_team, {"annotations_per_task": 3}) as server:
        assert len(drain(server, "ann")) == 12
        # bob gets the tasks ann answered (before anything new: there is nothing new).
        first = questions(server.url, "bob")
        assert [t["text"] for t in first] == ["task 0", "task 1", "task 2", "task 3"]
        answer(server.url, "bob", first)
        assert len(drain(server, "bob")) == 8
        assert drain(server, "ann") == []  # never twice to one session
        assert len(drain(server, "cat")) == 12
        assert drain(server, "dan") == []  # three sessions answered each: no more
        counts = Counter(a["text"] for a in server.answers())
    assert set(counts.values()) == {3}


def test_a_held_claim_counts_until_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'r.db'}")
    timeout = 2.0  # long enough for two requests on a loaded machine
    config = {"annotations_per_task": 1, "claim_timeout": timeout}
    with live_server(count_team, {"n": 4, **config}) as server:
        import time

        before = time.monotonic()
        held = questions(server.url, "ann")  # ann takes all four, then leaves
        claimed = time.monotonic()  # ann's claims were made between the two
        assert len(held) == 4
        assert questions(server.url, "bob") == []  # held: they count
        assert time.monotonic() - before < timeout, "too slow to tell before the expiry"
        time.sleep(max(0.0, claimed + timeout + 0.2 - time.monotonic()))
        back = questions(server.url, "bob")  # expired: given back
        assert sorted(t["text"] for t in back) == sorted(t["text"] for t in held)
        answer(server.url, "bob", back)
        assert questions(server.url, "ann") == []


def test_routing_is_durable_across_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'r.db'}")
    with live_server(count_team, {"annotations_per_task": 2}) as server:
        ann_first = [t["text"] for t in questions(server.url, "ann")]
        bob_first = [t["text"] for t in questions(server.url, "bob")]
    with live_server(count_team, {"annotations_per_task": 2}) as server:
        # A new server process: each session gets back exactly what it held.
        assert [t["text"] for t in questions(server.url, "bob")] == bob_first
        assert [t["text"] for t in questions(server.url, "ann")] == ann_first


def test_built_in_routers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'r.db'}")
    with live_server(count_team, {"router": "no_overlap"}) as server:
        ann = drain(server, "ann")
        assert len(ann) == 12 and drain(server, "bob") == []
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'full.db'}")
    team = {"allowed_sessions": ["ann", "bob", "cat"]}
    with live_server(count_team, {"router": "full_overlap", **team}) as server:
        assert len(drain(server, "ann")) == 12
        assert len(drain(server, "cat")) == 12
        assert len(drain(server, "bob")) == 12
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'avg.db'}")
    with live_server(count_team, {"router": "average", "n": 40, **team}) as server:
        for session in ("ann", "bob", "cat", "ann", "bob", "cat"):
            drain(server, session)
        counts = Counter(a["text"] for a in server.answers())
    assert len(counts) == 40 and set(counts.values()) <= {1, 2}
    assert 0.3 < sum(v == 2 for v in counts.values()) / 40 < 0.7  # 1.5 on average


def test_annotations_per_task_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    from recipe_runner.errors import ConfigError

    monkeypatch.setenv("RR_CONFIG_OVERRIDES", '{"annotations_per_task": 0}')
    with pytest.raises(ConfigError, match="annotations_per_task"):
        load_config()


def test_dropping_the_dataset_forgets_its_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("RR_DB_URL", url)
    with live_server(count_team, {"annotations_per_task": 1}) as server:
        assert len(drain(server, "ann")) == 12
    db = Database(url)
    try:
        from sqlalchemy import text

        def pooled() -> int:
            with db.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM route_tasks")).scalar() or 0)

        assert pooled() == 12
        db.drop("routed")
        assert pooled() == 0
    finally:
        db.close()
    with live_server(count_team, {"annotations_per_task": 1}) as server:
        assert len(drain(server, "ann")) == 12  # a new start: every task again


def test_routed_tasks_answered_in_an_excluded_dataset_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recipe_runner.hashing import set_hashes

    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("RR_DB_URL", url)
    db = Database(url)
    done = [set_hashes({"text": f"task {i}", "answer": "accept"}) for i in range(4)]
    db.import_answers("earlier", done)
    db.close()
    with live_server(count_team, {"annotations_per_task": 2, "exclude": "earlier"}) as server:
        assert sorted(drain(server, "ann")) == sorted(f"task {i}" for i in range(4, 12))
