"""Claims as annotators meet them: real `rr run` servers on one SQLite file, driven over HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from .rr_process import rr_env, servers, start_server
from .test_crash import write_source


def questions(url: str, session: str, fresh: bool = False) -> list[dict[str, Any]]:
    params = {"session": session, **({"fresh": "1"} if fresh else {})}
    reply = httpx.get(url + "/api/questions", params=params, timeout=30)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["tasks"])


def hashes(tasks: list[dict[str, Any]]) -> list[int]:
    return [task["_task_hash"] for task in tasks]


def test_a_closed_tab_frees_its_tasks_once_the_claim_expires(tmp_path: Path) -> None:
    source = write_source(tmp_path / "tasks.jsonl", 40)
    timeout = 2.0
    env = rr_env(tmp_path / "home", f"sqlite:///{tmp_path / 'db.sqlite'}", batch_size=5,
                 claim_timeout=timeout)  # fmt: skip
    with servers() as started:
        server = start_server(["mark", "ds", str(source)], env, tmp_path)
        started.append(server)
        # Alice is served a batch, then closes her tab without answering.
        held = hashes(questions(server.url, "alice"))
        claimed_at = time.monotonic()
        assert len(held) == 5
        # While her claim holds, Bob never gets her tasks, even asking again and again.
        seen_by_bob = hashes(questions(server.url, "bob"))
        seen_by_bob += hashes(questions(server.url, "bob", fresh=True))
        assert time.monotonic() - claimed_at < timeout, "too slow to tell before the expiry"
        assert not set(seen_by_bob) & set(held)
        assert len(seen_by_bob) == 10 and len(set(seen_by_bob)) == 5  # his own, twice
        time.sleep(max(0.0, claimed_at + timeout + 0.5 - time.monotonic()))
        # Then the next session to ask gets them, before any new task.
        freed = hashes(questions(server.url, "carol"))
        assert sorted(freed) == sorted(held)
        # They are Carol's now: Alice, back, gets others (Bob's, whose claims expired too).
        back = hashes(questions(server.url, "alice", fresh=True))
        assert len(back) == 5 and not set(back) & set(held)
        server.stop()


def test_feed_overlap_a_sessions_outstanding_tasks_follow_it_to_another_server(
    tmp_path: Path,
) -> None:
    source = write_source(tmp_path / "tasks.jsonl", 40)
    env = rr_env(tmp_path / "home", f"sqlite:///{tmp_path / 'db.sqlite'}", batch_size=5,
                 feed_overlap=True)  # fmt: skip
    with servers() as started:
        first = start_server(["mark", "ds", str(source)], env, tmp_path)
        second = start_server(["mark", "ds", str(source)], env, tmp_path)
        started += [first, second]
        # Two batches from the first server, not answered: the tab is closed...
        outstanding = hashes(questions(first.url, "ann")) + hashes(questions(first.url, "ann"))
        assert len(set(outstanding)) == 10
        # ...and opened again on the second: all ten come back, and only they.
        again = hashes(questions(second.url, "ann", fresh=True))
        assert sorted(again) == sorted(outstanding)
        # Another session still gets every task (feed_overlap), starting at the first.
        assert hashes(questions(second.url, "other")) == outstanding[:5]
        for server in started:
            server.stop()
