"""The controller's serving rules on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from recipe_runner.components import Components
from recipe_runner.config import load_config
from recipe_runner.controller import Controller
from recipe_runner.db import AnsweredIn, Database
from recipe_runner.db.claims import DatabaseClaims
from recipe_runner.hashing import set_hashes
from recipe_runner.loaders import get_stream

Task = dict[str, Any]


def texts(n: int, prefix: str = "text") -> list[Task]:
    return [{"text": f"{prefix} {i}"} for i in range(n)]


class Opened:
    """Controllers made in a test, and their databases, closed at its end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dbs: list[Database] = []

    def db(self) -> Database:
        self.dbs.append(Database(self.url))
        return self.dbs[-1]

    def controller(
        self,
        stream: list[Task],
        *,
        shared: bool = False,
        exclude: tuple[str, ...] = (),
        db: Database | None = None,
        **config: Any,
    ) -> Controller:
        components = Components(
            recipe="test", stream=stream, view_id="text", dataset="ds", exclude=list(exclude)
        )
        return Controller(
            components, load_config(cli=config), db or self.db(), shared_claims=shared
        )


@pytest.fixture
def opened(db_url: str) -> Iterator[Opened]:
    made = Opened(db_url)
    try:
        yield made
    finally:
        for db in made.dbs:
            db.close()


def answer_all(controller: Controller, session: str, tasks: list[Task], verdict: str = "accept"):
    return controller.receive_answers(session, [{**t, "answer": verdict} for t in tasks])


def drain(controller: Controller, sessions: list[str]) -> dict[str, list[str]]:
    """Sessions take turns asking for a batch and answering it, until none gets any."""
    seen: dict[str, list[str]] = {s: [] for s in sessions}
    for _ in range(1000):
        got_any = False
        for session in sessions:
            batch = controller.get_questions(session)
            if batch:
                got_any = True
                seen[session] += [t["text"] for t in batch]
                answer_all(controller, session, batch)
        if not got_any:
            return seen
    raise AssertionError("the stream never ran dry")


def stored(db: Database) -> list[tuple[str, str]]:
    return sorted((a["_session_id"], a["text"]) for a in db.iter_answers("ds"))


@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
def test_without_overlap_each_task_goes_to_one_session(opened: Opened, shared: bool) -> None:
    ctrl = opened.controller(texts(25) + texts(5), shared=shared)  # 5 duplicates in the stream
    seen = drain(ctrl, ["ds-a", "ds-b"])
    assert not set(seen["ds-a"]) & set(seen["ds-b"])
    assert sorted(seen["ds-a"] + seen["ds-b"]) == sorted(t["text"] for t in texts(25))
    assert len(stored(opened.db())) == 25
    assert ctrl.progress("ds-a").progress == 1.0


@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
def test_with_overlap_every_session_gets_every_task(opened: Opened, shared: bool) -> None:
    ctrl = opened.controller(texts(25), shared=shared, feed_overlap=True)
    seen = drain(ctrl, ["ds-a", "ds-b"])
    assert sorted(seen["ds-a"]) == sorted(seen["ds-b"]) == sorted(t["text"] for t in texts(25))
    assert len(stored(opened.db())) == 50
    # A new run serves each session nothing it answered before, but a new session everything.
    again = opened.controller(texts(25), shared=shared, feed_overlap=True)
    assert again.get_questions("ds-a") == []
    assert len(again.get_questions("ds-c")) == 10


@pytest.mark.parametrize("overlap", [False, True], ids=["shared-feed", "overlap"])
@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
def test_exclude_skips_tasks_answered_in_other_datasets(
    opened: Opened, shared: bool, overlap: bool
) -> None:
    db = opened.db()
    db.save_answers("old", [set_hashes({**t, "answer": "accept"}) for t in texts(25)[::3]])
    ctrl = opened.controller(texts(25), shared=shared, exclude=("old",), feed_overlap=overlap)
    seen = drain(ctrl, ["ds-a"])
    assert sorted(seen["ds-a"]) == sorted(t["text"] for i, t in enumerate(texts(25)) if i % 3)


@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
@pytest.mark.parametrize("exclude_by", ["task", "input"])
def test_exclude_by_input_skips_other_labels_of_an_answered_text(
    opened: Opened, exclude_by: str, shared: bool
) -> None:
    stream = [{"text": f"t{i}", "label": label} for label in ("A", "B") for i in range(4)]
    ctrl = opened.controller(stream, shared=shared, exclude_by=exclude_by)
    seen: list[tuple[str, str]] = []
    while batch := ctrl.get_questions("ds-a"):
        seen += [(t["text"], t["label"]) for t in batch]
        answer_all(ctrl, "ds-a", batch)
    if exclude_by == "input":
        assert seen == [(f"t{i}", "A") for i in range(4)]
    else:
        assert len(seen) == 8


@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
def test_exclude_by_input_never_has_one_text_out_twice(opened: Opened, shared: bool) -> None:
    # Small batches, nothing answered yet: the other labels of a text still waiting for its
    # answer are not served meanwhile, to this session or another.
    stream = [{"text": f"t{i}", "label": label} for label in ("A", "B") for i in range(5)]
    ctrl = opened.controller(stream, shared=shared, exclude_by="input", batch_size=2)
    held: dict[str, list[Task]] = {"ds-a": [], "ds-b": []}
    for session in ("ds-a", "ds-b") * 4:
        held[session] += ctrl.get_questions(session)
    out = held["ds-a"] + held["ds-b"]
    assert sorted(t["text"] for t in out) == [f"t{i}" for i in range(5)]
    for session, tasks in held.items():
        answer_all(ctrl, session, tasks)
    assert ctrl.get_questions("ds-a") == [] and ctrl.get_questions("ds-b") == []
    assert len(stored(opened.db())) == 5


@pytest.mark.parametrize("shared", [False, True], ids=["memory-claims", "db-claims"])
def test_unanswered_tasks_stay_with_their_session_until_the_claim_expires(
    opened: Opened, shared: bool
) -> None:
    timeout = 1.0  # long enough for the lines below on a loaded machine
    ctrl = opened.controller(texts(40), shared=shared, claim_timeout=timeout, batch_size=5)
    before = time.monotonic()
    a_tasks = ctrl.get_questions("ds-a")
    claimed = time.monotonic()  # a's claims were made between the two
    b_tasks = ctrl.get_questions("ds-b")
    assert not {t["text"] for t in a_tasks} & {t["text"] for t in b_tasks}
    # A reload gives a its own unanswered tasks back first.
    assert ctrl.get_questions("ds-a", fresh=True)[:5] == a_tasks
    answer_all(ctrl, "ds-b", b_tasks)
    assert time.monotonic() - before < timeout, "too slow to tell before the expiry"
    time.sleep(max(0.0, claimed + timeout + 0.1 - time.monotonic()))
    c_tasks = ctrl.get_questions("ds-c")
    assert {t["text"] for t in c_tasks} == {t["text"] for t in a_tasks}
    answer_all(ctrl, "ds-c", c_tasks)
    # a comes back: what it held is answered, so it is not served to it again.
    assert not {t["text"] for t in ctrl.get_questions("ds-a", fresh=True)} & {
        t["text"] for t in a_tasks
    }


def test_deduplication_asks_the_database_not_memory(opened: Opened) -> None:
    ctrl = opened.controller(texts(30))
    first = ctrl.get_questions("ds-a")
    answer_all(ctrl, "ds-a", first)
    # Someone else (another process, an import) answers tasks this run has not read yet.
    elsewhere = opened.db()
    elsewhere.save_answers(
        "ds", [set_hashes({**t, "answer": "reject", "_session_id": "ds-x"}) for t in texts(20)]
    )
    rest = drain(ctrl, ["ds-a"])["ds-a"]
    assert rest == [t["text"] for t in texts(30)[20:]]
    # A new run on the same database serves nothing already answered, by anyone.
    assert opened.controller(texts(30)).get_questions("ds-b") == []


def test_a_task_answered_between_the_check_and_the_claim_is_not_served(opened: Opened) -> None:
    other = opened.db()

    def answer_first(tasks: list[Task]) -> None:
        if tasks:
            other.save_answers("ds", [{**tasks[0], "answer": "accept", "_session_id": "ds-other"}])

    class AnsweredMeanwhile(DatabaseClaims):
        """Another process answers the first task of each batch just before this one claims
        it: after the controller read it from the stream and found it unanswered."""

        def claim_unanswered(
            self,
            scope: str,
            session: str,
            tasks: list[Task],
            timeout: float,
            answered: Sequence[AnsweredIn],
        ) -> list[Task]:
            answer_first(tasks)
            return super().claim_unanswered(scope, session, tasks, timeout, answered)

    ctrl = opened.controller(texts(20), shared=True)
    assert ctrl.db is not None
    ctrl.claims = AnsweredMeanwhile(ctrl.db, "ds")
    served = drain(ctrl, ["ds-a"])["ds-a"]
    by_other = {a["text"] for a in other.iter_answers("ds") if a["_session_id"] == "ds-other"}
    assert by_other and not set(served) & by_other
    assert sorted(served + sorted(by_other)) == sorted(t["text"] for t in texts(20))


def test_two_processes_on_one_database_answer_each_task_once(opened: Opened) -> None:
    stream = texts(200)
    controllers = [opened.controller(stream, shared=True, batch_size=7) for _ in range(2)]
    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def annotate(ctrl: Controller, session: str) -> Callable[[], None]:
        def work() -> None:
            try:
                seen[session] = drain(ctrl, [session])[session]
            except BaseException as err:
                errors.append(err)

        return work

    threads = [
        threading.Thread(target=annotate(ctrl, f"ds-{i}-{j}"))
        for i, ctrl in enumerate(controllers)
        for j in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    served = [text for texts_ in seen.values() for text in texts_]
    assert sorted(served) == sorted(t["text"] for t in stream)  # each exactly once
    rows = stored(opened.db())
    assert len(rows) == 200 and len({text for _, text in rows}) == 200
    assert [c.progress().progress for c in controllers] == [1.0, 1.0]


class CountedDriver:
    """The database's own driver, with each call (one round trip to the store) counted."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.calls = 0
        self.names: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.driver, name)
        if not callable(found) or name == "close":
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.names.append(name)
            return found(*args, **kwargs)

        return counted


@pytest.mark.parametrize("shared", [False, True])
def test_a_session_far_behind_others_passes_their_tasks_in_few_round_trips(
    opened: Opened, shared: bool
) -> None:
    # Other processes (fast headless workers) answered the first 3,000 tasks and hold 500 more.
    stream = texts(3_520)
    other = opened.db()
    other.save_answers(
        "ds",
        [set_hashes({**t, "answer": "accept", "_session_id": "ds-worker"}) for t in stream[:3_000]],
    )
    DatabaseClaims(other, "ds").claim(
        "", "ds-worker", [set_hashes(dict(t)) for t in stream[3_000:3_500]], 3600
    )
    db = opened.db()
    ctrl = opened.controller(stream, shared=shared, batch_size=10, db=db)
    ctrl.start()
    counted = CountedDriver(db.driver)
    db.driver = counted
    first = [t["text"] for t in ctrl.get_questions("ds-web")]
    # Without shared claims this process does not see the workers' claims: it serves those
    # tasks (each stays answered once, by the database's unique key, whoever saves first).
    start = 3_500 if shared else 3_000
    assert first == [t["text"] for t in stream[start : start + 10]]
    # Read in chunks growing to controller.READ_AHEAD, not a batch of 10 at a time (350 rounds).
    assert counted.calls <= 16, counted.calls
    # Only the tasks served are claimed: those read ahead and not served are served next.
    assert ctrl.claims.count("", "ds-web") == 10
    answer_all(ctrl, "ds-web", ctrl.get_questions("ds-web", fresh=True))
    second = [t["text"] for t in ctrl.get_questions("ds-web")]
    assert second == [t["text"] for t in stream[start + 10 : start + 20]]


def test_a_file_of_new_tasks_still_skips_those_another_process_answers_meanwhile(
    opened: Opened, tmp_path: Path
) -> None:
    # A source of distinct tasks none of which is answered: while nobody else writes, the
    # batches are served without asking the store which are answered (where it can tell).
    source = tmp_path / "tasks.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in texts(40)), encoding="utf-8")
    db = opened.db()
    components = Components(recipe="test", stream=get_stream(source), view_id="text", dataset="ds")
    ctrl = Controller(components, load_config(cli={"batch_size": 10}), db)
    tells_writes = db.driver.write_mark() is not None  # SQLite can tell; PostgreSQL not
    counted = CountedDriver(db.driver)
    db.driver = counted
    first = ctrl.get_questions("ds-a")
    answer_all(ctrl, "ds-a", first)
    asked = counted.calls
    second = ctrl.get_questions("ds-a")
    if tells_writes:  # the mark read, and no look-up of answers
        assert counted.names[asked:] == ["write_mark"]
    answer_all(ctrl, "ds-a", second)
    # Another process answers tasks this run has not read yet: the run must notice.
    other = opened.db()
    other.save_answers(
        "ds", [set_hashes({**t, "answer": "reject", "_session_id": "ds-x"}) for t in texts(30)]
    )
    rest = drain(ctrl, ["ds-a"])["ds-a"]
    assert [t["text"] for t in first + second] == [t["text"] for t in texts(20)]
    assert rest == [t["text"] for t in texts(40)[30:]]
    assert ctrl.progress("ds-a").progress == 1.0


def test_a_file_with_a_task_twice_serves_it_once(opened: Opened, tmp_path: Path) -> None:
    source = tmp_path / "tasks.jsonl"
    lines = texts(15) + texts(15)[3:4] + texts(20)[15:]
    source.write_text("".join(json.dumps(t) + "\n" for t in lines), encoding="utf-8")
    components = Components(recipe="test", stream=get_stream(source), view_id="text", dataset="ds")
    ctrl = Controller(components, load_config(cli={"batch_size": 4}), opened.db())
    served = drain(ctrl, ["ds-a"])["ds-a"]
    assert served == [t["text"] for t in texts(20)]
    assert len(stored(opened.db())) == 20


def test_processes_at_one_front_claim_a_batch_in_one_round_trip(opened: Opened) -> None:
    # Two processes serving one stream in turns: each finds half of what it reads claimed by
    # the other, and sizes its reads to that share rather than losing a race every batch.
    stream = texts(1_000)
    dbs = [opened.db(), opened.db()]
    ctrls = [opened.controller(stream, shared=True, batch_size=10, db=db) for db in dbs]
    counted = []
    for ctrl, db in zip(ctrls, dbs, strict=True):
        ctrl.start()
        counted.append(CountedDriver(db.driver))
        db.driver = counted[-1]
    served: list[str] = []
    for turn in range(40):
        ctrl = ctrls[turn % 2]
        batch = ctrl.get_questions(f"ds-{turn % 2}")
        assert len(batch) == 10
        served.extend(t["text"] for t in batch)
        answer_all(ctrl, f"ds-{turn % 2}", batch)
    assert len(set(served)) == 400
    # Each process's last 10 batches: one claim each, after the first few turns.
    for calls in counted:
        batches = " ".join(calls.names).split("save")[-11:-1]
        assert [b.split() for b in batches] == [["claim_first"]] * 10, calls.names
