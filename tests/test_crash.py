"""Crash safety: runs killed with SIGKILL and started again lose nothing and repeat nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from .pgtools import sqlalchemy_url
from .rr_process import rr_env, servers, start_server, wait_until

TASKS = 6000


def write_source(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f'{{"text": "task number {i}", "meta": {{"i": {i}}}}}\n')
    return path


class Answers:
    """Reads the answers table of a dataset through an engine of its own."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(sqlalchemy_url(url))

    def count(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM answers")).scalar() or 0)
        except Exception:  # the schema is not there yet
            return 0

    def rows(self) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            result = conn.execute(text("SELECT session_id, task_hash FROM answers ORDER BY id"))
            return [(str(s), int(h)) for s, h in result]

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def answers(db_url: str) -> Any:
    reader = Answers(db_url)
    yield reader
    reader.close()


def test_a_killed_headless_run_continues_where_it_stopped(
    db_url: str, tmp_path: Path, answers: Answers
) -> None:
    source = write_source(tmp_path / "tasks.jsonl", TASKS)
    env = rr_env(tmp_path / "home", db_url)
    command = [
        sys.executable,
        "-m",
        "recipe_runner",
        "run",
        "--headless",
        "mark",
        "ds",
        str(source),
    ]
    killed_at = []
    for crash in range(2):
        before = answers.count()
        log = tmp_path / f"run{crash}.log"
        with log.open("w") as err:
            proc = subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err
            )
        try:
            # Kill it mid-way: once it has saved a good share of what is left.
            wait_until(
                lambda b=before, p=proc: answers.count() >= b + 1500 or p.poll() is not None,
                240,
                "answers to arrive",
            )
        finally:
            proc.kill()
            proc.wait(timeout=30)
        assert proc.returncode == -9, log.read_text()  # killed, not ended by itself
        killed_at.append(answers.count())
    assert killed_at[0] < killed_at[1] < TASKS  # both runs were stopped half-way
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = answers.rows()
    hashes = [h for _, h in rows]
    assert len(hashes) == TASKS  # none skipped
    assert len(set(hashes)) == TASKS  # none answered twice, across the three runs
    assert f"{TASKS - killed_at[1]} answers saved" in done.stderr


# the web view ------------------------------------------------------------------------------------
class Hub:
    """Where annotators find the server: its URL, or None while it is down."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.url: str | None = None
        self.generation = 0
        self.final = False

    def publish(self, url: str | None, final: bool = False) -> None:
        with self.lock:
            self.url = url
            self.final = final
            if url is not None:
                self.generation += 1

    def current(self) -> tuple[int, str | None, bool]:
        with self.lock:
            return self.generation, self.url, self.final


class Annotator(threading.Thread):
    """Asks for a batch, thinks a little, answers it; after a failed request it reloads the
    page (a fresh request) once the server is back, dropping the batch in hand."""

    def __init__(self, name: str, hub: Hub, seed: int) -> None:
        super().__init__(daemon=True)
        self.session = name
        self.sid = f"ds-{name}"  # the session id its answers carry
        self.hub = hub
        self.rng = random.Random(seed)
        self.acked: list[int] = []
        self.served: list[int] = []
        self.held: dict[int, set[int]] = {}  # generation that failed -> batch in hand
        # generation that failed -> the first batch a reload got once a server was back
        self.after_restart: dict[int, list[int]] = {}
        self._failed: list[int] = []  # failures not yet followed by a reload
        self.error: BaseException | None = None
        self.finished = False

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as err:  # reported by the test
            self.error = err

    def _loop(self) -> None:
        batch: list[dict[str, Any]] | None = None
        fresh = True
        deadline = time.monotonic() + 240
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                generation, url, final = self.hub.current()
                if url is None:
                    time.sleep(0.01)
                    continue
                try:
                    if batch is None:
                        reply = client.get(
                            f"{url}/api/questions",
                            params={"session": self.session, "fresh": fresh},
                        )
                        assert reply.status_code == 200, reply.text
                        tasks = reply.json()["tasks"]
                        if fresh:
                            for failed in self._failed:
                                self.after_restart[failed] = [t["_task_hash"] for t in tasks]
                            self._failed, fresh = [], False
                        self.served += [t["_task_hash"] for t in tasks]
                        if not tasks:
                            if final:
                                self.finished = True
                                return
                            time.sleep(0.05)
                            continue
                        batch = tasks
                        time.sleep(self.rng.uniform(0, 0.03))  # reading the tasks
                    answers = [{**t, "answer": "accept"} for t in batch]
                    reply = client.post(
                        f"{url}/api/answers", json={"session": self.session, "answers": answers}
                    )
                    assert reply.status_code == 200, reply.text
                    self.acked += [t["_task_hash"] for t in batch]
                    batch = None
                except httpx.TransportError:
                    self.held[generation] = {t["_task_hash"] for t in batch or []}
                    self._failed.append(generation)
                    batch, fresh = None, True
                    while self.hub.current()[0] == generation:
                        time.sleep(0.01)
        raise AssertionError(f"annotator {self.session} did not finish in time")


@pytest.mark.slow
def test_killing_the_server_while_annotators_answer_loses_and_repeats_nothing(
    db_url: str, tmp_path: Path, answers: Answers
) -> None:
    n_tasks, crashes = 400, 4
    source = write_source(tmp_path / "tasks.jsonl", n_tasks)
    env = rr_env(tmp_path / "home", db_url, batch_size=5)
    hub = Hub()
    annotators = [Annotator(f"ann{i}", hub, i) for i in range(8)]
    stored_at_crash: dict[int, set[tuple[str, int]]] = {}
    logs: list[str] = []
    with servers() as started:
        for round_ in range(crashes + 1):
            server = start_server(["mark", "ds", str(source)], env, tmp_path)
            started.append(server)
            final = round_ == crashes
            hub.publish(server.url, final=final)
            if round_ == 0:
                for annotator in annotators:
                    annotator.start()
            if final:
                break
            before = sum(len(a.acked) for a in annotators)
            wait_until(
                lambda b=before: sum(len(a.acked) for a in annotators) >= b + 40, 120, "answers"
            )
            server.kill()
            hub.publish(None)
            generation = hub.current()[0]
            stored_at_crash[generation] = {(s, h) for s, h in answers.rows()}
            logs += server.stderr
        for annotator in annotators:
            annotator.join(timeout=240)
        server.stop()
        logs += server.stderr
    assert [a.error for a in annotators] == [None] * 8
    assert all(a.finished for a in annotators)
    assert not any("Traceback" in line for line in logs), "\n".join(logs)

    rows = answers.rows()
    # Every task answered, exactly once, by one session: none lost, none repeated.
    assert len(rows) == n_tasks and len({h for _, h in rows}) == n_tasks
    # Every answer acknowledged is stored, under the session that sent it.
    stored = set(rows)
    for annotator in annotators:
        assert {(annotator.sid, h) for h in annotator.acked} <= stored
    # No task was ever served to two sessions.
    owners: dict[int, set[str]] = {}
    for annotator in annotators:
        for task_hash in annotator.served:
            owners.setdefault(task_hash, set()).add(annotator.sid)
    assert all(len(sessions) == 1 for sessions in owners.values())
    # What a session held unanswered at a crash is served to it again first after the restart;
    # what was committed just before the crash (reply lost) is not served again.
    served_again = 0
    for annotator in annotators:
        for generation, held in annotator.held.items():
            committed = {h for s, h in stored_at_crash[generation] if s == annotator.sid}
            again = annotator.after_restart[generation]
            assert held - committed <= set(again), annotator.session
            assert not (held & committed) & set(again)
            served_again += len(held - committed)
    assert served_again > 0  # the crashes did catch annotators with tasks in hand
