"""Scale-out: several `rr run` server processes on one database, many annotators across them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from .rr_process import RRServer, rr_env, servers, start_server
from .test_crash import Answers, write_source


class Annotator(threading.Thread):
    """Asks one server for batches and answers each, until the server has none left."""

    def __init__(self, name: str, url: str) -> None:
        super().__init__(daemon=True)
        self.session, self.url = name, url
        self.served: list[int] = []
        self.saved = 0
        self.error: BaseException | None = None
        self.finished = False

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=60) as client:
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    reply = client.get("/api/questions", params={"session": self.session})
                    assert reply.status_code == 200, reply.text
                    tasks = reply.json()["tasks"]
                    if not tasks:
                        self.finished = True
                        return
                    self.served += [t["_task_hash"] for t in tasks]
                    answers = [{**t, "answer": "accept"} for t in tasks]
                    reply = client.post(
                        "/api/answers", json={"session": self.session, "answers": answers}
                    )
                    assert reply.status_code == 200, reply.text
                    self.saved += reply.json()["saved"]
        except BaseException as err:  # reported by the test
            self.error = err


def listening_addresses(server: RRServer) -> set[str]:
    process = psutil.Process(server.proc.pid)
    return {c.laddr.ip for c in process.net_connections(kind="inet") if c.status == "LISTEN"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"]
)
def test_two_servers_and_16_annotators_answer_every_task_exactly_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        db_url = str(request.getfixturevalue("pg_url"))
    else:  # two processes on one SQLite file (WAL) keep the same rules
        db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    n_tasks = 600
    source = write_source(tmp_path / "tasks.jsonl", n_tasks)
    env = rr_env(tmp_path / "home", db_url, batch_size=5)
    answers = Answers(db_url)
    try:
        with servers() as started:
            for _ in range(2):
                started.append(start_server(["mark", "ds", str(source)], env, tmp_path))
            # Nothing listens beyond loopback unless asked to.
            assert all(listening_addresses(s) == {"127.0.0.1"} for s in started)
            annotators = [Annotator(f"ann{i}", started[i % 2].url) for i in range(16)]
            for annotator in annotators:
                annotator.start()
            for annotator in annotators:
                annotator.join(timeout=200)
            for server in started:
                server.stop()
            logs = [line for s in started for line in s.stderr]
            codes = [s.proc.returncode for s in started]
        assert [a.error for a in annotators] == [None] * 16
        assert all(a.finished for a in annotators)
        assert codes == [0, 0], logs
        served: list[int] = [h for a in annotators for h in a.served]
        # Every task served once, to one annotator, across both processes...
        assert len(served) == n_tasks and len(set(served)) == n_tasks
        # ...both servers did part of the work...
        per_server = [sum(len(a.served) for a in annotators[i::2]) for i in range(2)]
        assert min(per_server) > 0
        # ...and the database holds each task's answer exactly once.
        rows = answers.rows()
        assert len(rows) == n_tasks and {h for _, h in rows} == set(served)
        assert sum(a.saved for a in annotators) == n_tasks
    finally:
        answers.close()


def test_a_server_binds_elsewhere_only_when_asked(tmp_path: Path) -> None:
    source = write_source(tmp_path / "tasks.jsonl", 5)
    env = rr_env(tmp_path / "home", f"sqlite:///{tmp_path / 'a.db'}")
    with servers() as started:
        started.append(start_server(["mark", "ds", str(source)], env, tmp_path))
        assert started[0].url.startswith("http://127.0.0.1:")
        assert listening_addresses(started[0]) == {"127.0.0.1"}
        asked = start_server(["--host", "127.0.0.2", "mark", "ds", str(source)], env, tmp_path)
        started.append(asked)
        assert listening_addresses(asked) == {"127.0.0.2"}
