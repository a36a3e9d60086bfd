"""The layout of docs/deploy.md on this machine: two `rr run` web servers and two headless
workers (`shared_claims`) on one database split one corpus, and nothing is served twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from .rr_process import rr_env, servers, start_server, wait_until
from .test_crash import Answers, write_source
from .test_scale import Annotator


def sessions(answers: Answers) -> int:
    with answers.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(DISTINCT session_id) FROM answers")).scalar_one()
        )


@pytest.mark.slow
def test_two_servers_and_two_headless_workers_split_one_corpus(db_url: str, tmp_path: Path) -> None:
    n_tasks = 20_000
    source = write_source(tmp_path / "tasks.jsonl", n_tasks)
    env = rr_env(tmp_path / "home", db_url, batch_size=5, shared_claims=True)
    answers = Answers(db_url)
    try:
        with servers() as started:
            for _ in range(2):
                started.append(start_server(["mark", "ds", str(source)], env, tmp_path))
            # The annotators start first and the workers once the web view has saved answers:
            # a worker alone runs through the corpus in seconds, and all must do some work.
            annotators = [Annotator(f"ann{i}", started[i % 2].url) for i in range(6)]
            for annotator in annotators:
                annotator.start()
            wait_until(lambda: sessions(answers) >= 1, 120, "the annotators' first answers")
            command = [sys.executable, "-m", "recipe_runner", "run", "--headless"]
            workers = [
                subprocess.Popen(
                    [*command, "mark", "ds", str(source)],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            outputs = [w.communicate(timeout=240)[1] for w in workers]
            for annotator in annotators:
                annotator.join(timeout=240)
            for server in started:
                server.stop()
            logs = [line for s in started for line in s.stderr]
        assert [w.returncode for w in workers] == [0, 0], outputs
        assert [a.error for a in annotators] == [None] * 6
        assert all(a.finished for a in annotators)
        assert [s.proc.returncode for s in started] == [0, 0], logs
        rows = answers.rows()
        by_worker: dict[str, int] = {}
        for session, _ in rows:
            if "-headless-" in session:
                by_worker[session] = by_worker.get(session, 0) + 1
        # Every task answered exactly once, in one session, whoever answered it...
        assert len(rows) == n_tasks and len({h for _, h in rows}) == n_tasks
        # ...both workers and the web view's annotators all did part of the work...
        assert len(by_worker) == 2 and min(by_worker.values()) > 0, (by_worker, outputs)
        served = [h for a in annotators for h in a.served]
        assert served and len(served) == len(set(served))
        # ...and no task the web view served was also answered by a worker.
        headless = {h for s, h in rows if "-headless-" in s}
        assert not headless & set(served)
        assert len(headless) + len(served) == n_tasks
    finally:
        answers.close()
